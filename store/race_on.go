//go:build race

package store

// raceSlowdown scales the store's time bounds in race-detector builds (tests only): see
// commitTimeout.
const raceSlowdown = 10
