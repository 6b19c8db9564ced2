package api

import (
	"net/http"
)

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.Store.APIKeys(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

// KeyRequest is the body of POST /apikeys.
type KeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Note says what the key is for (optional, one line, 400 bytes).
	Note string `json:"note"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req KeyRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	key, k, err := s.Service.CreateKey(r.Context(), actor(r), req.Name, req.Role, req.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "api_key": k,
		"note": "this is the only time the key is shown: store it now"})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, _, err := s.Service.RevokeKey(r.Context(), actor(r), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_key": k})
	return nil
}
