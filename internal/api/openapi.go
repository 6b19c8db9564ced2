package api

import (
	_ "embed"
	"net/http"

	"forewarn/internal/buildinfo"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openapiDoc)
	return err
}

// version says which binary serves the API (module version, VCS revision,
// build time, Go version), for an operator checking an upgrade landed.
func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, buildinfo.Get())
	return nil
}
