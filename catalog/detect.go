package catalog

import (
	"bytes"
	"strings"
)

// Kind is what a file is, recognised from its content.
type Kind string

// The kinds of file the importer reads.
const (
	KindUnknown       Kind = ""
	KindPaymentLimits Kind = "cms-payment-limits"
	KindCrosswalk     Kind = "cms-crosswalk"
	KindPurpleBook    Kind = "fda-purple-book"
	KindOrangeBook    Kind = "fda-orange-book"
	KindAcquisition   Kind = "acquisition-costs"
)

// Detect recognises a file from its first bytes (a few KiB are enough: every format says what it
// is in its preamble or header). Names are not looked at: CMS names its files differently each
// quarter.
func Detect(head []byte) Kind {
	if len(head) > 64<<10 {
		head = head[:64<<10]
	}
	// Cut at the last line break so a partial multi-byte sequence or field does not confuse.
	if i := bytes.LastIndexByte(head, '\n'); i > 0 {
		head = head[:i]
	}
	text := decodeText(head)
	first, _, _ := strings.Cut(text, "\n")
	first = strings.TrimSpace(first)
	switch {
	case strings.HasPrefix(first, "Ingredient~DF;Route~"):
		return KindOrangeBook
	case strings.Contains(first, "BLA Number") && strings.Contains(first, "BLA Type"):
		return KindPurpleBook
	}
	recs, err := readRecords(text, ',')
	if err != nil && len(recs) == 0 {
		return KindUnknown
	}
	for i, r := range recs {
		if i > 40 {
			break
		}
		switch {
		case isLimitHeader(r.fields):
			return KindPaymentLimits
		case isCrosswalkHeader(r.fields):
			return KindCrosswalk
		case i == 0 && isAcquisitionHeader(r.fields):
			return KindAcquisition
		}
	}
	return KindUnknown
}
