package scoring

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// ConfigFingerprint names the configuration a Scorer's answers depend on besides the catalog
// and the request: every contract's terms, the supplemental coverages' terms, the acquisition
// costs, and the P&T policy (group rules, formularies, indication table). Two configurations
// with the same fingerprint score every request alike on the same catalog. It is the first 8
// bytes of SHA-256 over their JSON encoding (maps in key order), in hex.
//
// Left out is what only classifies a hook's patient (which contract and which supplemental
// coverage apply: their match rules and the attribution roster), since a request already names
// the contract and the secondary coverage that classification chose, and the policy file's name
// (provenance on the card, not an input). A roster refresh or a payer id added to a match thus
// keeps the fingerprint; a changed arrangement, sharing rate, threshold, fee, formulary or a
// contract added or removed changes it.
//
// It encodes the whole configuration (the indication table included), so it is computed once
// per load (the gateway: once per engine), never per request. reg may not be nil; pol may
// (the default policy).
func ConfigFingerprint(reg *Registry, pol *Policy) string {
	type policyFP struct {
		Groups      map[string]GroupPolicy
		Formularies map[string]Formulary
		Indications map[string][]*Indication
	}
	fp := struct {
		Contracts   []Contract
		Secondary   []SecondaryCoverage
		Acquisition map[string][]AcquisitionCost
		Policy      *policyFP
	}{Acquisition: reg.acq}
	for _, k := range reg.contracts {
		k.Match = Match{}
		fp.Contracts = append(fp.Contracts, k)
	}
	for _, sc := range reg.secondary {
		sc.Match = Match{}
		fp.Secondary = append(fp.Secondary, sc)
	}
	if pol != nil {
		fp.Policy = &policyFP{Groups: pol.groups, Formularies: pol.formularies}
		if pol.indications != nil {
			fp.Policy.Indications = pol.indications.byGroup
		}
	}
	b, err := json.Marshal(fp)
	if err != nil {
		// Not for a validated configuration (a NaN or an infinity would be the cause). The
		// printed form names every value, and pointers by address: a fingerprint that changes
		// at every load, so answers are scored again rather than shared with another's.
		b = fmt.Appendf(nil, "%#v", fp)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
