package taxii_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
	"forewarn/internal/taxii"
)

// serveTAXII serves st's TAXII (the STIX mapper) on loopback for the test
// and returns the server and a read key for it.
func serveTAXII(ctx context.Context, t *testing.T, st *store.Store) (*httptest.Server, string) {
	t.Helper()
	key, _, err := st.CreateAPIKey(ctx, "r", apikey.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	taxii.New(st, taxii.STIXMapper{}, nil).Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs, key
}
