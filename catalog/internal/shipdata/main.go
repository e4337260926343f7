// Command shipdata copies the agency files the product needs into the repository
// (catalog/data/agency), keeping each file in its published format, byte for byte on every line
// it keeps: preambles, headers, Windows-1252 bytes, padded commas, line ends. It drops
//
//   - AMA CPT codes (five digits, the 90xxx vaccines) from every CMS file: a product that ships
//     these files keeps only HCPCS Level II codes (agency README, licensing);
//   - crosswalk rows of codes the catalog neither uses nor reports (everything that is not a
//     Purple Book biologic), and Orange Book rows of ingredients no retail group prices.
//
// The Purple Book is copied whole. Run by `make catalog-data`; `make catalog` then rebuilds the
// embedded snapshot from the copies.
//
//	go run ./catalog/internal/shipdata -from /work/shared/data/agency -to catalog/data/agency
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"valuerx/catalog"
)

func main() {
	from := flag.String("from", "", "directory of the agencies' files as published")
	to := flag.String("to", "catalog/data/agency", "directory to write the shipped copies to")
	supp := flag.String("supplementary", "catalog/data/supplementary", "supplementary inputs (NADAC extract, RxNorm codes)")
	flag.Parse()
	if *from == "" {
		fmt.Fprintln(os.Stderr, "usage: shipdata -from DIR [-to DIR]")
		os.Exit(2)
	}
	if err := run(*from, *to, *supp); err != nil {
		fmt.Fprintln(os.Stderr, "shipdata:", err)
		os.Exit(1)
	}
}

func run(from, to, supp string) error {
	snap, rep, err := catalog.Import([]string{from, supp}, time.Now())
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, p := range snap.Products {
		keep[p.HCPCS] = true
	}
	for _, r := range append(append([]catalog.Reject{}, rep.Excluded...), rep.Unconfirmed...) {
		code, _, _ := strings.Cut(r.Reason, " ")
		keep[code] = true
	}
	files, err := catalog.InputFiles([]string{from})
	if err != nil {
		return err
	}
	for _, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, src)
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		var out []byte
		switch catalog.Detect(b) {
		case catalog.KindPaymentLimits:
			out = filterLines(b, func(code string) bool { return !isCPT(code) })
		case catalog.KindCrosswalk:
			out = filterLines(b, func(code string) bool { return !isCPT(code) && keep[code] })
		case catalog.KindOrangeBook:
			out = filterLines(b, func(first string) bool { return strings.HasPrefix(first, "ATORVASTATIN") })
		default:
			out = b // the Purple Book, the README
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d -> %d bytes\n", rel, len(b), len(out))
	}
	return nil
}

func isCPT(code string) bool {
	return len(code) == 5 && code[0] >= '0' && code[0] <= '9'
}

// filterLines keeps every line up to and including the header row, then the data lines whose
// first field passes keep. Records are kept byte for byte.
func filterLines(b []byte, keep func(first string) bool) []byte {
	var out bytes.Buffer
	header := true
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line = b[:i+1]
			b = b[i+1:]
		} else {
			b = nil
		}
		// A quoted field may hold a line break (a crosswalk description does): a record runs
		// until its quotes balance, and is kept or dropped whole.
		for bytes.Count(line, []byte{'"'})%2 == 1 && len(b) > 0 {
			j := bytes.IndexByte(b, '\n')
			if j < 0 {
				j = len(b) - 1
			}
			line = append(append([]byte{}, line...), b[:j+1]...)
			b = b[j+1:]
		}
		text := string(line)
		if header {
			out.Write(line)
			up := strings.ToUpper(text)
			if strings.HasPrefix(up, "HCPCS CODE,") || (strings.HasPrefix(up, "_") && strings.Contains(up, "_CODE,")) || strings.HasPrefix(text, "Ingredient~") {
				header = false
			}
			continue
		}
		first := text
		if j := strings.IndexAny(text, ",~"); j >= 0 {
			first = text[:j]
		}
		if keep(strings.Trim(first, "\" ")) {
			out.Write(line)
		}
	}
	return out.Bytes()
}
