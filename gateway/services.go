package gateway

import (
	"net/http"

	"valuerx/cdshooks"
	"valuerx/fhir"
)

// Service ids. One per hook, so an EHR can register either or both.
const (
	ServiceOrderSelect = "valuerx-order-select"
	ServiceOrderSign   = "valuerx-order-sign"
)

// Prefetch keys. coverage is required (it decides the arrangement); patient carries the MBI used
// for ACO attribution (Coverage.subscriberId is the fallback); medications is the history that
// keeps valuerx from switching a patient mid-course; conditions is the problem list, the
// indication of an order that names none (some biosimilars are not labelled for every
// indication of their reference).
const (
	keyPatient         = "patient"
	keyCoverage        = "coverage"
	keyMedications     = "medications"
	keyAdministrations = "administrations"
)

// The templates use only 2.0 tokens and the recommended query subset (CDS Hooks §Prefetch).
var prefetchTemplates = map[string]string{
	keyPatient:     "Patient/{{context.patientId}}",
	keyCoverage:    "Coverage?patient={{context.patientId}}&status=active",
	keyMedications: "MedicationRequest?patient={{context.patientId}}",
	keyConditions:  "Condition?patient={{context.patientId}}",
	// administrations: what was given (an infusion centre's MAR), so a patient mid-course is
	// recognised even when the order history is incomplete.
	keyAdministrations: "MedicationAdministration?patient={{context.patientId}}",
	keyDispenses:       dispensePrefetch, // adherence.go: fills for the PQA measures
	keyAllergies:       allergyPrefetch,  // adherence.go: read before a statin is offered as a create
	// bodyWeight, bodyHeight: the latest body weight and height, which a weight- or BSA-based
	// dose (trastuzumab mg/kg, rituximab mg/m²) needs. Without them a tenth of the demo's hooks
	// searched the FHIR server after their prefetch had arrived (issue 15). Every token is in the
	// recommended query subset (token equality, _sort, _count).
	keyBodyWeight: "Observation?patient={{context.patientId}}&code=http://loinc.org|" + fhir.LOINCBodyWeight + "&_sort=-date&_count=1",
	keyBodyHeight: "Observation?patient={{context.patientId}}&code=http://loinc.org|" + loincBodyHeight + "&_sort=-date&_count=1",
}

// fetchTemplates are the same queries as prefetchTemplates, written with the reference form
// "Patient/{id}" that every server matches (Medplum, for one, ignores a bare id in a reference
// search parameter, although R4 allows it). The declared prefetch keeps the bare-id form that
// EHRs and Inferno expect.
var fetchTemplates = map[string]string{
	keyPatient:         "Patient/{{context.patientId}}",
	keyCoverage:        "Coverage?patient=Patient/{{context.patientId}}&status=active",
	keyMedications:     "MedicationRequest?patient=Patient/{{context.patientId}}",
	keyConditions:      "Condition?patient=Patient/{{context.patientId}}",
	keyAdministrations: "MedicationAdministration?patient=Patient/{{context.patientId}}",
}

type serviceDef struct {
	cdshooks.Service
	// focusSelections: order-select advises on context.selections only; order-sign on every
	// draft order.
	focusSelections bool
}

func defaultServices() []serviceDef {
	usage := "Needs the patient's active Coverage; Patient (for the Medicare Beneficiary Identifier), " +
		"MedicationRequests (for therapy in progress) and Conditions (the indication, when the order has no reasonCode) are used when present. Fetches what prefetch lacks " +
		"from fhirServer with fhirAuthorization."
	return []serviceDef{
		{
			Service: cdshooks.Service{
				Hook:              "order-select",
				ID:                ServiceOrderSelect,
				Title:             "valuerx: lower total cost equivalents (order-select)",
				Description:       "When a medication is selected, suggests a therapeutically equivalent product with a lower total cost under the patient's payer arrangement, showing payer, patient and organisation cost.",
				Prefetch:          prefetchTemplates,
				UsageRequirements: usage,
			},
			focusSelections: true,
		},
		{
			Service: cdshooks.Service{
				Hook:              "order-sign",
				ID:                ServiceOrderSign,
				Title:             "valuerx: lower total cost equivalents (order-sign)",
				Description:       "Before medication orders are signed, suggests therapeutically equivalent products with a lower total cost under the patient's payer arrangement, showing payer, patient and organisation cost.",
				Prefetch:          prefetchTemplates,
				UsageRequirements: usage,
			},
		},
	}
}

func knownServiceID(id string) bool { return id == ServiceOrderSelect || id == ServiceOrderSign }

func (g *Gateway) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	d := cdshooks.Discovery{Services: make([]cdshooks.Service, 0, len(g.services))}
	for _, s := range g.services {
		d.Services = append(d.Services, s.Service)
	}
	writeJSON(w, http.StatusOK, d)
}
