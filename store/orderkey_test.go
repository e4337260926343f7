package store_test

import (
	"testing"

	"valuerx/store"
)

// OrderKeys, one HMAC state reset between keys, gives OrderKey's keys, in any order of calls.
func TestOrderKeysAreOrderKey(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := store.NewOrderKeys(secret)
	for _, c := range []struct{ client, patient, order string }{
		{"https://ehr.a/cds", "p1", "mr-1"}, {"https://ehr.a/cds", "p1", "mr-2"}, {"https://ehr.a/cds", "p1", ""},
		{"https://ehr.b/cds#tenant", "p2", "mr-1#pdc-statin"}, {"", "", "x"}, {"a\x00b", "c", "d"}, {"a", "b\x00c", "d"},
		{"https://ehr.a/cds", "p1", "mr-1"},
	} {
		if got, want := k.Key(c.client, c.patient, c.order), store.OrderKey(secret, c.client, c.patient, c.order); got != want {
			t.Errorf("%q: %s, want %s", c, got, want)
		}
	}
}

// BenchmarkOrderKeys is a 20-draft hook's order keys, each with its own HMAC (OrderKey) and with
// one HMAC state for the hook (OrderKeys).
func BenchmarkOrderKeys(b *testing.B) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = "aco-herceptin-2024-draft-" + string(rune('a'+i))
	}
	b.Run("OrderKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, id := range ids {
				store.OrderKey(secret, "https://ehr.bench/cds-client", "patient-1", id)
			}
		}
	})
	b.Run("OrderKeys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			k := store.NewOrderKeys(secret)
			for _, id := range ids {
				k.Key("https://ehr.bench/cds-client", "patient-1", id)
			}
		}
	})
}
