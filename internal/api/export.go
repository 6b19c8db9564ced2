package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"forewarn/internal/service"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/export"
)

// ExportTimeout bounds one export download: a full STIX bundle of millions
// of indicators takes minutes on a slow link.
const ExportTimeout = 30 * time.Minute

// Version identifies the indicators' state for HTTP validators: Seed
// changes whenever the exported data may have, LastModified is when.
type Version struct {
	Seed         string
	LastModified time.Time
}

// exportOptions parses the filters every format shares.
func exportOptions(q url.Values) (export.Options, error) {
	var o export.Options
	if v := q.Get("status"); v != "" {
		for _, s := range strings.Split(v, ",") {
			st, err := parseStatus("status", strings.TrimSpace(s))
			if err != nil {
				return o, err
			}
			o.Statuses = append(o.Statuses, st)
		}
	}
	if v := q.Get("min_importance"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 100 {
			return o, badRequest("min_importance", "min_importance must be a number from 0 to 100, not %q", v)
		}
		o.MinImportance = &f
	}
	list := func(key string) []string {
		var out []string
		for _, x := range strings.Split(q.Get(key), ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	o.Categories, o.Sources, o.Feed = list("categories"), list("sources"), strings.TrimSpace(q.Get("feed"))
	if v := q.Get("min_sources"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, badRequest("min_sources", "min_sources must be a whole number of feeds, 0 or more, not %q", v)
		}
		o.MinSources = n
	}
	if v := q.Get("min_confidence"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return o, badRequest("min_confidence", "min_confidence must be a whole number from 0 to 100, not %q", v)
		}
		o.MinConfidence = &n
	}
	if v := q.Get("updated_since"); v != "" {
		t, err := service.ParseTime("updated_since", v)
		if err != nil {
			return o, err
		}
		o.UpdatedSince = *t
	}
	o.Rank = q.Get("rank")
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, badRequest("max", "max must be a positive whole number, not %q", v)
		}
		o.Max = n
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"aggregate", &o.Aggregate}, {"netblocks", &o.Netblocks}} {
		if v := q.Get(b.key); v != "" {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return o, badRequest(b.key, "%s must be true or false, not %q", b.key, v)
			}
			*b.dst = x
		}
	}
	return o, nil
}

// exportQuery is the query without the key, in a stable order, for ETags.
func exportQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "key" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s&", k, strings.Join(q[k], ","))
	}
	return b.String()
}

func (s *Server) exportFormat(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("format")
	categories := false
	if name == "suricata-categories" {
		name, categories = string(export.SuricataIPRep), true
	}
	f, err := export.ParseFormat(name)
	if err != nil {
		return notFound("%v (or suricata-categories)", err)
	}
	o, err := exportOptions(r.URL.Query())
	if err != nil {
		return err
	}
	if f == export.JSONL && len(o.Statuses) == 0 {
		// As on the command line: jsonl is the whole store unless asked.
		o.Statuses = export.AllStatuses
	}
	if err := o.Validate(f); err != nil {
		return badRequest("", "%v", err)
	}
	v, err := s.DataVersion(r.Context())
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(v.Seed + "\x00" + r.PathValue("format") + "\x00" + exportQuery(r.URL.Query())))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	lastMod := v.LastModified.Truncate(time.Second)
	notMod := notModified(r, etag, lastMod)
	if !notMod && !categories && r.Method != http.MethodHead {
		// Only a download holds a database connection: 304s, HEADs and
		// the fixed category list are not counted.
		k, _ := Caller(r.Context())
		release, err := s.exports.acquire(k.ID)
		if err != nil {
			s.exports.retryAfter(w)
			return err
		}
		defer release()
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
	w.Header().Set("Cache-Control", "no-cache")
	if notMod {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if categories {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		return export.WriteSuricataCategories(w)
	}
	w.Header().Set("Content-Type", export.ContentType(f))
	if r.Method == http.MethodHead {
		return nil
	}
	return s.streamExport(w, r, f, o)
}

// streamExport writes the export in chunks, each of which the client must
// accept within the stall limit.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request, f export.Format, o export.Options) error {
	// The server's write timeout would cut a large export; each chunk
	// gets its own deadline instead, and this one bounds the first.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(ExportTimeout))
	boundSendBuffer(r.Context())
	bw := newStallWriter(w, s.exports.lim.Stall)
	err := export.Write(r.Context(), bw, s.ExportSource, f, o)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		return nil
	}
	// The status is sent: cut the body so the client sees a broken
	// transfer rather than a short list it would take as whole.
	if isStall(err) {
		s.log.Warn("export dropped: the client accepted no data for too long", "format", f,
			"stall", s.exports.lim.Stall.String(), "remote", r.RemoteAddr)
	} else {
		s.log.Error("export failed mid-stream", "format", f, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// notModified applies If-None-Match, else If-Modified-Since.
func notModified(r *http.Request, etag string, lastMod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !lastMod.After(t) {
			return true
		}
	}
	return false
}
