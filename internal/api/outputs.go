package api

import (
	"net/http"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/output"
	"forewarn/internal/service"
)

// OutputRequest is the body of POST /outputs: a name and the profile's
// spec (format, max, rank, feeds, min_sources, min_confidence, statuses,
// aggregate, netblocks, tlp, misp_attribute).
type OutputRequest struct {
	Name string `json:"name"`
	output.Spec
}

// outputView is an output profile as the API shows it.
type outputView struct {
	Name          string             `json:"name"`
	Path          string             `json:"path"`
	Format        export.Format      `json:"format"`
	Max           int                `json:"max"`
	Rank          string             `json:"rank,omitempty"`
	Feeds         []string           `json:"feeds"`
	MinSources    int                `json:"min_sources"`
	MinConfidence *int               `json:"min_confidence"`
	Statuses      []indicator.Status `json:"statuses"`
	Aggregate     bool               `json:"aggregate"`
	Netblocks     bool               `json:"netblocks"`
	TLP           string             `json:"tlp,omitempty"`
	MISPAttribute string             `json:"misp_attribute,omitempty"`
	KeyPrefix     string             `json:"key_prefix"`
	CreatedAt     time.Time          `json:"created_at"`
	CreatedBy     string             `json:"created_by"`
	LastFetchedAt *time.Time         `json:"last_fetched_at"`
	LastFetchedBy string             `json:"last_fetched_by"`
	Entries       int64              `json:"entries"`
	CutOff        string             `json:"cut_off"`
}

func viewOutput(o service.Output) outputView {
	st := o.Spec.Statuses
	if len(st) == 0 {
		st = []indicator.Status{indicator.StatusActive}
	}
	rank := o.Spec.Rank
	if rank == "" && o.Spec.Max > 0 {
		rank = "importance"
	}
	feeds := o.Spec.Feeds
	if feeds == nil {
		feeds = []string{}
	}
	return outputView{
		Name: o.Name, Path: "/outputs/" + o.Name, Format: o.Spec.Format, Max: o.Spec.Max, Rank: rank, Statuses: st,
		Feeds: feeds, MinSources: o.Spec.MinSources, MinConfidence: o.Spec.MinConfidence,
		Aggregate: o.Spec.Aggregate, Netblocks: o.Spec.Netblocks, TLP: o.Spec.TLP, MISPAttribute: o.Spec.MISPAttribute,
		KeyPrefix: "fwo_" + o.KeyPrefix + "…", CreatedAt: o.CreatedAt, CreatedBy: o.CreatedBy,
		LastFetchedAt: o.FetchedAt, LastFetchedBy: o.FetchedBy, Entries: o.Entries, CutOff: o.CutOff,
	}
}

func (s *Server) listOutputs(w http.ResponseWriter, r *http.Request) error {
	all, err := s.Service.Outputs(r.Context())
	if err != nil {
		return err
	}
	views := make([]outputView, 0, len(all))
	for _, o := range all {
		views = append(views, viewOutput(o))
	}
	writeJSON(w, http.StatusOK, map[string]any{"outputs": views})
	return nil
}

func (s *Server) getOutput(w http.ResponseWriter, r *http.Request) error {
	o, err := s.Service.Output(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"output": viewOutput(o)})
	return nil
}

func (s *Server) createOutput(w http.ResponseWriter, r *http.Request) error {
	var req OutputRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	key, o, err := s.Service.CreateOutput(r.Context(), actor(r), req.Name, req.Spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "output": viewOutput(o),
		"note": "this is the only time the key is shown: store it now; it opens this output and nothing else"})
	return nil
}

func (s *Server) deleteOutput(w http.ResponseWriter, r *http.Request) error {
	if err := s.Service.DeleteOutput(r.Context(), actor(r), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateOutputKey(w http.ResponseWriter, r *http.Request) error {
	key, o, err := s.Service.RotateOutputKey(r.Context(), actor(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "output": viewOutput(o),
		"note": "this is the only time the key is shown; the old key no longer works"})
	return nil
}
