package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// exportInfo is one format on the Exports page.
type exportInfo struct {
	Format export.Format
	For    string
	// URL is what a device polls (a read key as the basic-auth password).
	URL string
	// Directory: the format is a directory of files (misp-feed), read by
	// its consumer from URL, not one download.
	Directory bool
}

// exportUses say what each format is for.
var exportUses = map[export.Format]string{
	export.JSONL:         "every indicator with every attribute, one JSON object a line: SIEMs, scripts",
	export.CSV:           "every indicator, one row each: spreadsheets, SIEM lookups",
	export.STIX:          "a STIX 2.1 bundle: threat-intelligence platforms (or the TAXII server)",
	export.EDL:           "one address or CIDR a line: Palo Alto external dynamic lists, other firewalls",
	export.SuricataIPRep: "Suricata IP reputation (iprep) list",
	export.ZeekIntel:     "Zeek intelligence framework file",
	export.CrowdSec:      "CrowdSec decisions (cscli decisions import), each ban ending at the indicator's expiry",
	export.ECS:           "Elastic Common Schema threat-indicator documents, one a line: Elastic, Filebeat",
	export.MISPFeed:      "a MISP feed (manifest.json, hashes.csv, one event per feed): add the URL to MISP as a feed",
}

// exportsData is the Exports page.
type exportsData struct {
	Formats []exportInfo
	Origin  string
}

// origin is this server's scheme and host as the browser reached it.
func (u *UI) origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || u.Secure || clientOf(r, u.TrustedProxies).https {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (u *UI) exportsPage(w http.ResponseWriter, r *http.Request, se *session) error {
	d := exportsData{Origin: u.origin(r)}
	for _, f := range export.Formats {
		d.Formats = append(d.Formats, exportInfo{Format: f, For: exportUses[f], URL: d.Origin + "/api/v1/export/" + string(f), Directory: f.Directory()})
	}
	return u.render(w, http.StatusOK, "exports", view{Title: "Exports", Nav: "exports", Session: se, Data: d})
}

// maxDownloads bounds the exports the UI streams at once; the API has its
// own gate for devices.
const maxDownloads = 2

// admit takes one of the download slots, or answers 429 when all are
// taken.
func (u *UI) admit(w http.ResponseWriter, r *http.Request, se *session) (release func(), ok bool) {
	select {
	case u.downloads <- struct{}{}:
		return func() { <-u.downloads }, true
	default:
		w.Header().Set("Retry-After", "30")
		u.fail(w, r, se, http.StatusTooManyRequests, fmt.Sprintf("%d downloads are running: try again when one has finished.", maxDownloads))
		return nil, false
	}
}

// exportDefaults are the API's: jsonl the whole store, the others Active.
func exportDefaults(f export.Format) export.Options {
	if f == export.JSONL {
		return export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}
	}
	return export.Options{}
}

// downloadExport streams one format of the whole store, as the API's
// export with its defaults does, to a signed-in browser.
func (u *UI) downloadExport(w http.ResponseWriter, r *http.Request, se *session) error {
	f, err := export.ParseFormat(r.PathValue("format"))
	if err != nil {
		u.fail(w, r, se, http.StatusNotFound, "There is no export format "+r.PathValue("format")+": the Exports page lists them.")
		return nil
	}
	release, ok := u.admit(w, r, se)
	if !ok {
		return nil
	}
	defer release()
	return u.stream(w, r, u.Store, f, exportDefaults(f), "forewarn."+ext(f))
}

// stream writes an export as a download. Once the body started, a failure
// can only cut it short (the log has the cause).
func (u *UI) stream(w http.ResponseWriter, r *http.Request, src export.Source, f export.Format, o export.Options, name string) error {
	w.Header().Set("Content-Type", contentType(f))
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(&stallWriter{w: w, rc: http.NewResponseController(w)}, 32<<10)
	err := export.Write(r.Context(), bw, src, f, o)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		u.Log.Error("ui export cut short", "format", f, "err", err)
	}
	return nil
}

// DownloadStall is how long a browser may take to accept each chunk of a
// download before it is dropped (the server's write timeout would cut any
// download at two minutes).
const DownloadStall = 30 * time.Second

// stallWriter moves the connection's write deadline before each write.
type stallWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if err := s.rc.SetWriteDeadline(time.Now().Add(DownloadStall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return s.w.Write(p)
}

func ext(f export.Format) string {
	switch f {
	case export.STIX:
		return "stix.json"
	case export.EDL, export.SuricataIPRep:
		return string(f) + ".txt"
	case export.ZeekIntel:
		return "intel"
	}
	return string(f)
}

func contentType(f export.Format) string {
	switch f {
	case export.JSONL:
		return "application/x-ndjson"
	case export.CSV:
		return "text/csv; charset=utf-8"
	case export.STIX:
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// SearchExportLimit bounds an export of a search: a search is for people;
// the whole store is on the Exports page.
const SearchExportLimit = 10_000

// searchSource hands out the indicators of a search, page by page, up to
// SearchExportLimit.
type searchSource struct {
	st Store
	q  store.IndicatorQuery
}

func (s searchSource) EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error {
	q := s.q
	q.Limit, q.Cursor = store.MaxIndicatorLimit, ""
	n := 0
	for {
		page, err := s.st.SearchIndicators(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Indicators {
			if n == SearchExportLimit {
				return nil
			}
			if err := fn(&page.Indicators[i]); err != nil {
				return err
			}
			n++
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}

// exportSearch downloads the current search as CSV or JSONL.
func (u *UI) exportSearch(w http.ResponseWriter, r *http.Request, se *session) error {
	qv := r.URL.Query()
	f := export.Format(qv.Get("format"))
	if f != export.CSV && f != export.JSONL {
		u.fail(w, r, se, http.StatusBadRequest, "A search exports as csv or jsonl.")
		return nil
	}
	_, q, ok := parseSearch(qv)
	if !ok || q.Cursor != "" {
		u.fail(w, r, se, http.StatusBadRequest, "The search cannot be exported as it is: run it again from the Indicators page.")
		return nil
	}
	release, ok := u.admit(w, r, se)
	if !ok {
		return nil
	}
	defer release()
	o := export.Options{Filter: export.Filter{Statuses: export.AllStatuses}}
	return u.stream(w, r, searchSource{st: u.Store, q: q}, f, o, "forewarn-search."+string(f))
}

// ExportURL is the current search's export in format f.
func (d searchData) ExportURL(f string) string {
	v := d.values()
	v.Set("format", f)
	return "/indicators/export?" + v.Encode()
}
