//go:build !race

package gateway

// raceDetector reports a race-detector build (race_on_test.go).
const raceDetector = false
