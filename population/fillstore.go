package population

import (
	"math"
	"sync"
)

// fillStore holds the fill words of a run in fixed-size chunks, handed to the parse workers in
// blocks, so that memory grows by one chunk at a time (no slice doubling, no copy) and the words
// are later grouped by patient in place.
//
// A worker appends to its current block and asks for another when it is full; the unused tail of
// a worker's last block is filled with the sentinel word, which sorts into an extra bucket after
// every patient. The store's logical array is blocks x blockWords long.
type fillStore struct {
	mu     sync.Mutex
	chunks [][]uint64
	blocks int
}

const (
	blockWords     = 4096
	chunkWords     = 1 << 20 // 8 MiB
	blocksPerChunk = chunkWords / blockWords
	sentinel       = math.MaxUint64 // record field all ones: no patient
)

// block hands out the next empty block (length 0, capacity blockWords).
func (s *fillStore) block() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blocks
	s.blocks++
	c := b / blocksPerChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]uint64, chunkWords))
	}
	off := (b % blocksPerChunk) * blockWords
	return s.chunks[c][off : off : off+blockWords]
}

// seal fills the rest of a worker's last block with sentinels.
func seal(b []uint64) {
	full := b[:cap(b)]
	for i := len(b); i < len(full); i++ {
		full[i] = sentinel
	}
}

func (s *fillStore) len() int { return s.blocks * blockWords }

func (s *fillStore) at(i int) uint64 { return s.chunks[i/chunkWords][i%chunkWords] }

func (s *fillStore) set(i int, w uint64) { s.chunks[i/chunkWords][i%chunkWords] = w }

// bucket is a word's record index, n for the sentinel.
func bucket(w uint64, n int) int {
	if w>>32 == math.MaxUint32 {
		return n
	}
	return int(w >> 32)
}

// group puts the words in record order in place (the permutation of an American flag sort: count
// per record, prefix sums, then follow each displaced word to its record's next free slot). It is
// linear, needs no second array, and returns offsets: record i's fills are [offsets[i],
// offsets[i+1]).
func (s *fillStore) group(n int) []int {
	offsets := make([]int, n+2)
	total := s.len()
	for i := range total {
		offsets[bucket(s.at(i), n)+1]++
	}
	for b := range n + 1 {
		offsets[b+1] += offsets[b]
	}
	next := make([]int, n+1)
	copy(next, offsets[:n+1])
	for b := 0; b <= n; b++ {
		for next[b] < offsets[b+1] {
			i := next[b]
			w := s.at(i)
			k := bucket(w, n)
			if k == b {
				next[b]++
				continue
			}
			for k != b { // carry w to its bucket, pick up the word it displaces
				j := next[k]
				next[k]++
				w, s.chunks[j/chunkWords][j%chunkWords] = s.at(j), w
				k = bucket(w, n)
			}
			s.set(i, w)
			next[b]++
		}
	}
	return offsets[:n+1]
}
