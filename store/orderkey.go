package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
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

// OrderKeys computes OrderKey for the orders of one caller (a hook's drafts) with one HMAC
// state, reset between keys instead of built again: the same keys, without hmac.New's two SHA-256
// states and pads per order. Not safe for concurrent use.
type OrderKeys struct {
	secret []byte
	m      hash.Hash
	buf    []byte
	sum    [sha256.Size]byte
}

// NewOrderKeys returns an OrderKeys under secret; its HMAC state is made on first use.
func NewOrderKeys(secret []byte) *OrderKeys { return &OrderKeys{secret: secret} }

// Key is OrderKey(secret, client, patientID, orderID).
func (k *OrderKeys) Key(client, patientID, orderID string) string {
	if orderID == "" {
		return ""
	}
	if k.m == nil {
		k.m = hmac.New(sha256.New, k.secret)
	} else {
		k.m.Reset()
	}
	b := append(k.buf[:0], client...)
	b = append(b, 0)
	b = append(b, patientID...)
	b = append(b, 0)
	b = append(b, orderID...)
	k.buf = b
	k.m.Write(b)
	return hex.EncodeToString(k.m.Sum(k.sum[:0]))
}
