// Package demo holds the data `make run` starts with: synthetic demo patients (a FHIR R4
// transaction Bundle loaded into the embedded FHIR server) and ready CDS Hooks requests for them.
//
// Every person here is invented. The Medicare Beneficiary Identifiers follow the CMS MBI format;
// 1EG4TE5MK73 is the example MBI that CMS publishes. The patients are built to land on the four
// sample contracts of scoring's default configuration:
//
//	pat-ffs            Medicare Part B fee-for-service (SOPT 121, not on the ACO roster)
//	pat-aco            Medicare Shared Savings ACO (SOPT 121, MBI on the roster)
//	pat-aco-midcourse  the same ACO, already receiving Herceptin (must not be switched)
//	pat-ma             Medicare Advantage global capitation (SOPT 112, plan MA-GLOBAL-CAP)
//	pat-ppo            commercial PPO paid ASP + 20% (SOPT 512, plan PPO-GOLD)
//
// and, with pharmacy fills dated from the day the demo starts, the four patients of the adherence
// demo (adherence.go, AdherencePatients).
//
// It imports nothing from the project.
package demo

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed patients.json
var patients []byte

//go:embed requests/*.json
var requests embed.FS

// Patients returns the demo FHIR transaction Bundle.
func Patients() []byte { return append([]byte(nil), patients...) }

// Requests lists the names of the demo hook requests (file names without ".json").
func Requests() []string { return names(requests, "requests") }

// Request returns one demo hook request by name (see Requests).
func Request(name string) ([]byte, bool) { return readRequest(requests, "requests", name) }

func names(fsys embed.FS, dir string) []string {
	ents, _ := fs.ReadDir(fsys, dir)
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(out)
	return out
}

func readRequest(fsys embed.FS, dir, name string) ([]byte, bool) {
	b, err := fsys.ReadFile(dir + "/" + strings.TrimSuffix(name, ".json") + ".json")
	return b, err == nil
}
