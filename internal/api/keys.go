package api

import (
	"net/http"

	"forewarn/internal/apikey"
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
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req KeyRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest("name", "name the key, for example after who or what uses it")
	}
	role, err := apikey.ParseRole(req.Role)
	if err != nil {
		return badRequest("role", "%v", err)
	}
	key, k, err := s.Store.CreateAPIKey(r.Context(), req.Name, role)
	if err != nil {
		return err
	}
	s.log.Info("API key created", "name", k.Name, "role", k.Role, "by", caller(r))
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "api_key": k,
		"note": "this is the only time the key is shown: store it now"})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.Store.RevokeAPIKey(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	s.log.Info("API key revoked", "name", k.Name, "by", caller(r))
	writeJSON(w, http.StatusOK, map[string]any{"api_key": k})
	return nil
}
