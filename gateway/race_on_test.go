//go:build race

package gateway

// raceDetector reports a race-detector build: tests whose point is a ratio of CPU work to I/O
// (deadline_test.go) check less there, where instrumented reads cost as much as the work.
const raceDetector = true
