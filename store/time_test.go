package store_test

import "time"

func timeAt(min int) time.Time {
	return time.Date(2026, 2, 15, 10, min, 0, 0, time.UTC)
}
