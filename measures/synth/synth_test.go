package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"valuerx/measures"
)

func generate(t *testing.T, cfg Config) (map[string]*bytes.Buffer, []Truth) {
	t.Helper()
	bufs := map[string]*bytes.Buffer{}
	for _, k := range []string{"Patient", "Coverage", "MedicationDispense", "Condition", "Encounter"} {
		bufs[k] = &bytes.Buffer{}
	}
	var truth []Truth
	_, err := Generate(cfg, Writers{bufs["Patient"], bufs["Coverage"], bufs["MedicationDispense"], bufs["Condition"], bufs["Encounter"]}, func(tr Truth) { truth = append(truth, tr) })
	if err != nil {
		t.Fatal(err)
	}
	return bufs, truth
}

func TestGenerateDeterministic(t *testing.T) {
	a, _ := generate(t, Config{Year: 2026, Patients: 300, Seed: 7})
	b, _ := generate(t, Config{Year: 2026, Patients: 300, Seed: 7})
	c, _ := generate(t, Config{Year: 2026, Patients: 300, Seed: 8})
	for k := range a {
		if !bytes.Equal(a[k].Bytes(), b[k].Bytes()) {
			t.Errorf("%s differs between two runs with the same seed", k)
		}
	}
	if bytes.Equal(a["MedicationDispense"].Bytes(), c["MedicationDispense"].Bytes()) {
		t.Error("different seeds gave the same dispenses")
	}
	// A patient's history does not depend on the population size.
	small, _ := generate(t, Config{Year: 2026, Patients: 10, Seed: 7})
	first := bytes.SplitAfter(a["Patient"].Bytes(), []byte("\n"))[:10]
	if !bytes.Equal(bytes.Join(first, nil), small["Patient"].Bytes()) {
		t.Error("the first ten patients changed with the population size")
	}
}

func TestGenerateResources(t *testing.T) {
	bufs, truth := generate(t, Config{Year: 2026, Patients: 2000, Seed: 1})
	for k, b := range bufs {
		sc := bufio.NewScanner(b)
		n := 0
		for sc.Scan() {
			var r struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ResourceType != k || r.ID == "" {
				t.Fatalf("%s line %d: %v %+v", k, n+1, err, r)
			}
			n++
		}
		if n == 0 {
			t.Errorf("no %s resources", k)
		}
	}
	// The adherence bands show in the engine's results: with the default bands (70 % aiming at
	// 85-100 %), between 50 % and 90 % of the statin denominator is adherent, and every
	// measure has a denominator and exclusions.
	var den, met, excl [measures.NumMeasures]int
	for i := range truth {
		for m, r := range measures.Evaluate(&truth[i].Patient, 2026) {
			if r.InDenominator {
				den[m]++
				if r.Met {
					met[m]++
				}
			}
			if r.Excluded {
				excl[m]++
			}
		}
	}
	for m := range measures.NumMeasures {
		if den[m] < 50 || excl[m] == 0 {
			t.Errorf("%s: denominator %d, excluded %d", m, den[m], excl[m])
		}
	}
	if rate := float64(met[measures.PDCStatin]) / float64(den[measures.PDCStatin]); rate < 0.5 || rate > 0.9 {
		t.Errorf("statin adherence rate %.2f outside 0.50-0.90", rate)
	}
	all := Config{Year: 2026, Patients: 2000, Seed: 1, Bands: []Band{{1, 1, 1}}}
	_, perfect := generate(t, all)
	den2, met2 := 0, 0
	for i := range perfect {
		r := measures.Evaluate(&perfect[i].Patient, 2026)[measures.PDCStatin]
		if r.InDenominator {
			den2++
			if r.Met {
				met2++
			}
		}
	}
	if float64(met2)/float64(den2) < 0.9 {
		t.Errorf("fully adherent population: statin rate %d/%d", met2, den2)
	}
}

func TestParseBands(t *testing.T) {
	b, err := ParseBands("0.5:0.8-1, 0.5:0.2-0.8")
	if err != nil || len(b) != 2 || b[1].Min != 0.2 {
		t.Fatalf("%v %v", b, err)
	}
	for _, bad := range []string{"", "0.5:0.8-1", "1:0-1", "1:0.9-0.8", "x:0.1-0.2", "1:0.2"} {
		if _, err := ParseBands(bad); err == nil {
			t.Errorf("ParseBands(%q) accepted", bad)
		}
	}
}
