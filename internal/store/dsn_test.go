package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"forewarn/internal/testutil/pgtest"
)

// TestDSNPasswordParametersAreMasked: a password given as ?password= or
// ?sslpassword= is masked wherever the user-info password is: the store's
// shown path (serve's log line) and every Open error (issue 13 C11).
func TestDSNPasswordParametersAreMasked(t *testing.T) {
	const pw, sslpw = "qp-s3cret-77", "ssl-s3cret-88"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://u@127.0.0.1:5432/db?password=" + pw + "&pool_max_conns=1",
		"postgres://u@127.0.0.1:1/db?connect_timeout=2&password=" + pw + "&sslpassword=" + sslpw,
		"postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=2&sslpassword=" + sslpw,
	} {
		shown := RedactDSN(dsn)
		if strings.Contains(shown, pw) || strings.Contains(shown, sslpw) || !strings.Contains(shown, "xxxxx") {
			t.Errorf("RedactDSN = %q, want every password masked", shown)
		}
		_, err := Open(ctx, dsn)
		if err == nil {
			t.Fatalf("Open(%s) succeeded", shown)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), sslpw) {
			t.Errorf("the error shows a password: %v", err)
		}
	}
	// A store that opens (trust auth ignores the password) shows its DSN
	// masked too: serve logs it.
	dsn := pgtest.DSN(t) + "&password=" + pw
	st, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if strings.Contains(st.Path(), pw) || !strings.Contains(st.Path(), "password=xxxxx") {
		t.Errorf("Path() = %q, want the password masked", st.Path())
	}
}
