package population

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFillStoreGroup: grouping in place keeps every word and puts each record's words in its
// range, sentinels last, across chunk boundaries.
func TestFillStoreGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 5000
	var s fillStore
	var want []uint64
	workers := make([][]uint64, 3)
	for range 3*blockWords*blocksPerChunk/2 + 17 { // spans several chunks
		w := &workers[r.IntN(3)]
		if len(*w) == cap(*w) {
			*w = s.block()
		}
		word := packFill(int32(r.IntN(n)), r.IntN(366), 1+r.IntN(90), r.IntN(50))
		*w = append(*w, word)
		want = append(want, word)
	}
	for _, w := range workers {
		seal(w)
	}
	offsets := s.group(n)
	var got []uint64
	for rec := range n {
		for i := offsets[rec]; i < offsets[rec+1]; i++ {
			w := s.at(i)
			if got := bucket(w, n); got != rec {
				t.Fatalf("record %d's range holds a word of %d", rec, got)
			}
			got = append(got, w)
		}
	}
	for i := offsets[n]; i < s.len(); i++ {
		if s.at(i) != sentinel {
			t.Fatalf("word %d after the records is not a sentinel", i)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("grouping lost or changed words: %d in, %d out", len(want), len(got))
	}
}
