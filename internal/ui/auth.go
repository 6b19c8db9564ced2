package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if err := u.render(w, http.StatusOK, "login", view{Title: "Sign in", Data: safeNext(r.URL.Query().Get("next"))}); err != nil {
		u.Log.Error("render sign-in", "err", err)
	}
}

// maxNext bounds the next parameter: a page's path and query fit easily.
const maxNext = 2048

// safeNext keeps redirects on this site. Browsers drop tabs and newlines
// from a Location and read a backslash as a slash, so "/\t/evil.example"
// or "/\\evil.example" would leave for evil.example: only a value that
// parses as a bare path (and query) on this origin, with no control
// characters or backslashes before or after decoding, is kept.
func safeNext(next string) string {
	if len(next) > maxNext || !plainText(next) || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || !plainText(u.Path) {
		return "/"
	}
	return next
}

// plainText reports whether s has no control characters and no backslash.
func plainText(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\\' {
			return false
		}
	}
	return true
}

// crossSite refuses a form that another site's page submitted, such as an
// auto-submitted sign-in with the attacker's key (login CSRF). It trusts
// the browser's Sec-Fetch-Site, or compares Origin with Host; a request
// with neither comes from no browser and passes.
var crossSite = http.NewCrossOriginProtection()

// login exchanges an API key for a session cookie. The key is checked by
// the store as for the REST API, then forgotten.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	// The budget of every page, from the start: storing the session waits
	// for the store's write lock (a feed run committing) within it.
	ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if err := crossSite.Check(r); err != nil {
		u.Log.Warn("ui sign-in refused: the form came from another site", "origin", clientText(r.Header.Get("Origin")))
		http.Error(w, "Sign-in refused: the form was sent from another site. Open this server's own /login page and sign in there.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := safeNext(r.PostFormValue("next"))
	cl := clientOf(r, u.TrustedProxies)
	if no, which, wait := u.throttle.blocked(cl.addr, key, time.Now()); no {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.Log.Warn("ui sign-in refused: too many failed attempts", "client", cl.addr, "by", which)
		msg := fmt.Sprintf("Too many failed sign-ins from your address: try again in %d seconds.", secs)
		if which == "key" {
			msg = fmt.Sprintf("Too many failed sign-ins with this key: try again in %d seconds, or check the key.", secs)
		}
		if err := u.render(w, http.StatusTooManyRequests, "login", view{Title: "Sign in", Data: next, Error: msg}); err != nil {
			u.Log.Error("render sign-in", "err", err)
		}
		return
	}
	k, err := u.Store.AuthenticateAPIKey(r.Context(), key)
	if err != nil && (errors.Is(err, store.ErrUnauthorized) || key == "") {
		u.throttle.fail(cl.addr, key, time.Now())
		msg := "That API key is unknown or revoked. Create one with: forewarn apikey create --name NAME --role read|admin"
		if err := u.render(w, http.StatusUnauthorized, "login", view{Title: "Sign in", Data: next, Error: msg}); err != nil {
			u.Log.Error("render sign-in", "err", err)
		}
		return
	}
	if err == nil && !k.Role.Allows(apikey.RoleRead) {
		// A sightings key reports sightings through the API; it may
		// not read the store.
		msg := "This API key has the " + string(k.Role) + " role: it can only report sightings through the API. Sign in with a read or admin key."
		if err := u.render(w, http.StatusForbidden, "login", view{Title: "Sign in", Data: next, Error: msg}); err != nil {
			u.Log.Error("render sign-in", "err", err)
		}
		return
	}
	var id string
	if err == nil {
		id, err = u.createSession(r.Context(), k)
	}
	if err != nil {
		u.Log.Error("ui sign-in failed", "err", err)
		status, msg := storeFailure(w, r, err)
		if err := u.render(w, status, "login", view{Title: "Sign in", Data: next, Error: "Sign-in failed. " + msg}); err != nil {
			u.Log.Error("render sign-in", "err", err)
		}
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: u.Secure || cl.https,
		SameSite: http.SameSiteStrictMode, MaxAge: int(SessionTTL.Seconds())})
	u.Log.Info("ui sign-in", "key", k.Name, "role", k.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// clientText shortens a client-supplied header for a log line.
func clientText(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return strconv.Quote(s)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, se *session) error {
	if !se.validCSRF(r) {
		u.fail(w, r, se, http.StatusForbidden, "The form was out of date (its CSRF token is missing or stale): reload the page and try again.")
		return nil
	}
	if err := u.endSession(r); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: u.Secure || clientOf(r, u.TrustedProxies).https, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// busyRetryAfter is the Retry-After of a page that found the store busy:
// a feed run's commit takes up to about a minute.
const busyRetryAfter = 60

// storeFailure sets the response up for a request that failed (mostly in
// the store) and returns its status and a message for the person. The
// error itself goes to the log only: SQLite's "database is locked" says
// nothing a person can act on.
func storeFailure(w http.ResponseWriter, r *http.Request, err error) (int, string) {
	switch {
	case errors.Is(err, store.ErrBusy):
		w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
		return http.StatusServiceUnavailable, "The store is busy: a feed run is writing to it. Try again in a minute."
	case r.Context().Err() != nil:
		w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
		return http.StatusServiceUnavailable, "The store did not answer in time. Try again in a minute."
	}
	return http.StatusInternalServerError, "Something went wrong: see the server's log. Try again; if it persists, check the store."
}

// setTimeZone stores the signed-in key's time zone: UTC, or the zone the
// browser reported (the footer's button). Any signed-in key may choose
// its own, so it needs the CSRF token but not the admin role.
func (u *UI) setTimeZone(w http.ResponseWriter, r *http.Request, se *session) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if !se.validCSRF(r) {
		u.fail(w, r, se, http.StatusForbidden, "The form was out of date (its CSRF token is missing or stale): reload the page and try again.")
		return nil
	}
	zone := r.PostFormValue("zone")
	_, err := u.Service.SetTimeZone(r.Context(), se.actor(), zone)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		u.fail(w, r, se, http.StatusBadRequest, "Your browser reported the time zone “"+clipText(zone)+"”, which this server does not know: times stay in UTC. Choose a zone such as Europe/Paris in your system's settings, or keep UTC.")
		return nil
	}
	if err != nil {
		return err
	}
	back := "/"
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		back = safeNext(ref.RequestURI())
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}
