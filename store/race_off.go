//go:build !race

package store

// raceSlowdown scales the store's time bounds in race-detector builds (tests only): see
// commitTimeout. Production builds keep the bounds as written.
const raceSlowdown = 1
