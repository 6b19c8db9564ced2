package api

import (
	"net/http"
	"strconv"

	"forewarn/internal/activity"
	"forewarn/internal/store"
)

// view is run as the API shows it, with live progress while it runs in
// this process.
func (s *Server) view(run activity.Run) Run {
	if run.Status == activity.StatusRunning {
		if a, ok := s.Runner.Get(run.ID); ok {
			p := a.Progress.Snapshot()
			return runJSON(run, &p)
		}
	}
	return runJSON(run, nil)
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit", 0)
	if err != nil {
		return err
	}
	status := q.Get("status")
	if status != "" && !validRunStatus(activity.Status(status)) {
		return badRequest("status", "unknown run status %q: use running, succeeded, failed, unchanged, canceled or abandoned", status)
	}
	page, err := s.Store.ListRuns(r.Context(), store.RunQuery{Feed: q.Get("feed"), Status: status, Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	runs := make([]Run, 0, len(page.Runs))
	for _, run := range page.Runs {
		runs = append(runs, s.view(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "next": page.Next})
	return nil
}

func validRunStatus(s activity.Status) bool {
	switch s {
	case activity.StatusRunning, activity.StatusSucceeded, activity.StatusFailed, activity.StatusUnchanged,
		activity.StatusAbandoned, activity.StatusCanceled:
		return true
	}
	return false
}

// pathRunID reads the path's {id}.
func pathRunID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("id", "a run id is a positive whole number, not %q", r.PathValue("id"))
	}
	return id, nil
}

// pathRun reads the run the path's {id} names.
func (s *Server) pathRun(r *http.Request) (activity.Run, error) {
	id, err := pathRunID(r)
	if err != nil {
		return activity.Run{}, err
	}
	return s.Store.Run(r.Context(), id)
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.pathRun(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(run))
	return nil
}

// cancelRun cancels a run this process is running. The run rolls back and
// is recorded as canceled; the reply is 202 and the run's final state shows
// at GET /runs/{id} once it has rolled back.
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	id, err := pathRunID(r)
	if err != nil {
		return err
	}
	if _, err := s.Service.CancelRun(r.Context(), actor(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": id, "status": "canceling"})
	return nil
}

// intParam parses an optional whole-number query parameter.
func intParam(v, field string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest(field, "%s must be a positive whole number, not %q", field, v)
	}
	return n, nil
}
