package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPostgresDSNErrors: a wrong pool setting names the parameter and the
// fix, an unreachable server says what to check, and neither repeats the
// DSN's password. Needs no server: it fails before or at the connection.
func TestPostgresDSNErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pw = "s3cret-pa55"
	for _, tc := range []struct {
		dsn  string
		want []string
	}{
		{"postgres://u:" + pw + "@127.0.0.1:5432/db?pool_max_conns=1", []string{"pool_max_conns", "at least 2"}},
		{"postgres://u:" + pw + "@127.0.0.1:5432/db?pool_max_idle_conns=x", []string{"pool_max_idle_conns"}},
		{"postgres://u:" + pw + "@127.0.0.1:5432/db?pool_max_conn_lifetime=soon", []string{"pool_max_conn_lifetime", "30m"}},
		// Port 1 on loopback refuses at once.
		{"postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=2", []string{"cannot reach PostgreSQL", "host, port"}},
	} {
		_, err := Open(ctx, tc.dsn)
		if err == nil {
			t.Fatalf("Open(%s) succeeded", RedactDSN(tc.dsn))
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%s): %q does not say %q", RedactDSN(tc.dsn), err, w)
			}
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if got := RedactDSN("postgres://u:" + pw + "@h/db"); strings.Contains(got, pw) || !strings.Contains(got, "u:xxxxx@h/db") {
		t.Errorf("RedactDSN = %q", got)
	}
}
