package api

import (
	"net/http"

	"forewarn/internal/service"
)

// leadTimeReport serves the independent lead time of Seclytics'
// predictions, narrowed by ?feed= and ?since=.
func (s *Server) leadTimeReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rep, err := s.Service.LeadTimes(r.Context(), service.LeadTimeRequest{Feed: q.Get("feed"), Since: q.Get("since")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
