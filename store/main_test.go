package store_test

import (
	"os"
	"testing"

	"valuerx/store/pgtest"
)

// TestMain stops the PostgreSQL server the tests started (pgtest.Shared), pass or fail.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}
