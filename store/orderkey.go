package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// OrderKey is the keyed hash that names an order in the record: HMAC-SHA256 under secret of the
// client, the patient id and the draft order (MedicationRequest) id. The gateway computes it
// for a hook's draft order, and the imports for the MedicationAdministration or claim line that
// names the same patient and MedicationRequest, so both join without either id being stored.
// An empty order id has no key ("").
func OrderKey(secret []byte, client, patientID, orderID string) string {
	if orderID == "" {
		return ""
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(client))
	m.Write([]byte{0})
	m.Write([]byte(patientID))
	m.Write([]byte{0})
	m.Write([]byte(orderID))
	return hex.EncodeToString(m.Sum(nil))
}
