package feedrun

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/feeddef"
	"forewarn/internal/listrun"
	"forewarn/internal/store"
)

// DefaultConfidence is a feed's confidence when its definition gives none.
const DefaultConfidence = 50

// ErrNoSecret is wrapped when a feed whose definition authenticates has no
// secret configured.
var ErrNoSecret = errors.New("the feed needs a secret")

// Feed is what listrun needs to know of the feed d.
func Feed(d *feeddef.Definition) (listrun.Feed, error) {
	f := listrun.Feed{ID: d.ID, Source: d.Source, Mode: store.ListMode(d.Mode), Confidence: DefaultConfidence,
		AllowlistSpecialRanges: true}
	if f.Source == "" {
		f.Source = d.Title
	}
	if d.Confidence != nil {
		f.Confidence = *d.Confidence
	}
	if d.AgeOut != "" && d.AgeOut != "never" {
		age, err := time.ParseDuration(d.AgeOut)
		if err != nil || age < 0 {
			return f, fmt.Errorf("feed %s: age_out %q is not a duration such as 2160h", d.ID, d.AgeOut)
		}
		f.AgeOut = age
	}
	return f, nil
}

// Fetcher is the fetcher of feed d under configuration c: the URL on c's
// base URL (the publisher's when empty), the secret as the definition's
// fetch.auth says.
func Fetcher(d *feeddef.Definition, c store.ListFeedConfig) (*listrun.Fetcher, error) {
	u, err := d.URL(c.BaseURL, c.Settings)
	if err != nil {
		return nil, err
	}
	f := &listrun.Fetcher{URL: u}
	kind := d.Fetch.Auth.Kind
	if kind == "" || kind == feeddef.AuthNone {
		return f, nil
	}
	if !c.Token.IsSet() {
		return nil, fmt.Errorf("feed %s: %w: set it with forewarn config %s --token-file FILE", d.ID, ErrNoSecret, d.ID)
	}
	tok := c.Token.Reveal()
	switch kind {
	case feeddef.AuthQuery:
		f.Query = url.Values{d.Fetch.Auth.Param: {tok}}
	case feeddef.AuthHeader:
		f.Header = http.Header{http.CanonicalHeaderKey(d.Fetch.Auth.Header): {d.Fetch.Auth.Prefix + tok}}
	case feeddef.AuthBasic:
		cred := base64.StdEncoding.EncodeToString([]byte(d.Fetch.Auth.Username + ":" + tok))
		f.Header = http.Header{"Authorization": {"Basic " + cred}}
	default:
		return nil, fmt.Errorf("feed %s: fetch.auth.kind %q is not one forewarn knows", d.ID, kind)
	}
	return f, nil
}

// Parser reads a decompressed body of feed d with the settings given,
// for a run at now.
func Parser(d *feeddef.Definition, settings map[string]string, now time.Time) func(io.Reader) listrun.Entries {
	return func(r io.Reader) listrun.Entries {
		rd, err := d.NewReader(r, feeddef.Params{Settings: settings, Now: now})
		return &entries{r: rd, err: err}
	}
}

// Run runs feed d once under configuration c; o's Fetcher and Parse are
// set here.
func Run(ctx context.Context, st listrun.Store, d *feeddef.Definition, c store.ListFeedConfig, o listrun.Options) (*activity.Run, error) {
	f, err := Feed(d)
	if err != nil {
		return nil, err
	}
	// Bad settings fail before the run is recorded, as a bad request.
	if _, err := d.Settings(c.Settings); err != nil {
		return nil, fmt.Errorf("feed %s: %w: fix it with forewarn config %s --set", d.ID, err, d.ID)
	}
	if o.Fetcher, err = Fetcher(d, c); err != nil {
		return nil, err
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	o.Parse = Parser(d, c.Settings, now)
	return listrun.Run(ctx, st, f, o)
}

// entries adapts a feeddef.Reader to listrun.Entries.
type entries struct {
	r     *feeddef.Reader
	err   error
	attrs []store.ListAttr
}

func (e *entries) Next() (store.ListEntry, error) {
	if e.err != nil {
		return store.ListEntry{}, e.err
	}
	en, err := e.r.Next()
	if err != nil {
		return store.ListEntry{}, err
	}
	e.attrs = e.attrs[:0]
	for _, a := range en.Attrs {
		e.attrs = append(e.attrs, store.ListAttr{Name: a.Name, Value: a.Value})
	}
	return store.ListEntry{Prefix: en.Prefix, FirstSeen: en.FirstSeen, LastSeen: en.LastSeen, Attrs: e.attrs}, nil
}

// Read counts every record read: entries, invalid lines and those the
// filters dropped.
func (e *entries) Read() int64 {
	if e.r == nil {
		return 0
	}
	s := e.r.Stats()
	n := s.Entries + s.Invalid
	for _, f := range s.Filtered {
		n += f
	}
	return n
}

func (e *entries) Invalid() int64 {
	if e.r == nil {
		return 0
	}
	return e.r.Stats().Invalid
}

func (e *entries) Problems() []activity.Problem {
	if e.r == nil {
		return nil
	}
	var out []activity.Problem
	for _, p := range e.r.Problems() {
		out = append(out, activity.Problem{Line: p.Line, Kind: activity.ProblemInvalid, Message: p.Message})
	}
	return out
}
