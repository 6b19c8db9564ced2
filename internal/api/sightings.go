package api

import (
	"net/http"
	"time"

	"forewarn/internal/service"
)

// SightingsRequest is the body of POST /sightings: what a SIEM saw.
type SightingsRequest struct {
	Sightings []SightingRequest `json:"sightings"`
}

// SightingRequest is one address seen: how often (default 1) and when
// first and last (default: now).
type SightingRequest struct {
	IP        string    `json:"ip"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// recordSightings records a batch of up to service.MaxSightings sightings;
// the body is capped at maxBody (2 MiB) like every other.
func (s *Server) recordSightings(w http.ResponseWriter, r *http.Request) error {
	var req SightingsRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	in := make([]service.SightingInput, len(req.Sightings))
	for i, sg := range req.Sightings {
		in[i] = service.SightingInput{IP: sg.IP, Count: sg.Count, First: sg.FirstSeen, Last: sg.LastSeen}
	}
	res, err := s.Service.RecordSightings(r.Context(), actor(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
