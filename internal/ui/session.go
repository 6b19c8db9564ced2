package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

const cookieName = "forewarn_session"

// session is a signed-in browser. The API key itself is never kept: only
// who it belongs to and its role. Sessions live in the store (only a hash
// of the cookie value), so they survive a restart and work on every serve
// instance sharing the store.
type session struct {
	store.UISession
	// Alert is the feed's failure, shown on every page until a run
	// succeeds; nil when the feed is well.
	Alert *feedAlert
	// loc is the time zone the key chose for times (UTC by default).
	loc *time.Location
}

// Zone names the session's time zone: UTC, or the IANA name its key
// chose.
func (se *session) Zone() string {
	if se.loc == nil || se.loc == time.UTC {
		return service.UTC
	}
	return se.loc.String()
}

// Local reports whether the session's key chose a zone other than UTC.
func (se *session) Local() bool { return se.Zone() != service.UTC }

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// createSession signs a browser in with the key and returns the cookie
// value.
func (u *UI) createSession(ctx context.Context, k store.APIKey) (string, error) {
	id := randomToken()
	err := u.Service.StartSession(ctx, service.Key(k, "ui"), id, store.UISession{KeyID: k.ID, CSRF: randomToken(), Expires: time.Now().Add(SessionTTL)})
	return id, err
}

// session returns the request's live session: its cookie names one that
// has not expired and whose API key is not revoked.
func (u *UI) session(r *http.Request) (*session, bool, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false, nil
	}
	se, err := u.Store.UISession(r.Context(), c.Value)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	_, loc, err := service.ParseTimeZone("time_zone", se.TimeZone)
	if err != nil {
		// A zone this server's time zone database lacks: times in UTC,
		// which the footer says.
		loc = time.UTC
	}
	return &session{UISession: se, loc: loc}, true, nil
}

// endSession signs the request's browser out.
func (u *UI) endSession(r *http.Request) error {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	return u.Service.EndSession(r.Context(), c.Value)
}

// actor is who the session acts for: its API key, through the UI.
func (se *session) actor() service.Actor {
	return service.Actor{KeyID: se.KeyID, Name: se.KeyName, Via: "ui"}
}

// Admin reports whether the session may change things.
func (se *session) Admin() bool { return se.Role == apikey.RoleAdmin }

// validCSRF reports whether the request carries the session's CSRF token,
// as a form field or, from htmx, a header.
func (se *session) validCSRF(r *http.Request) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRF)) == 1
}

// sign returns the session's signature of parts, keyed by its CSRF token:
// a redirect carries it so that the page it leads to can tell its own
// notice from one written into a link by someone else.
func (se *session) sign(parts ...string) string {
	m := hmac.New(sha256.New, []byte(se.CSRF))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// signed reports whether sig is the session's signature of parts.
func (se *session) signed(sig string, parts ...string) bool {
	return sig != "" && hmac.Equal([]byte(sig), []byte(se.sign(parts...)))
}
