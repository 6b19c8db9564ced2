package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/store"
)

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if err := u.render(w, http.StatusOK, "login", view{Title: "Sign in", Data: safeNext(r.URL.Query().Get("next"))}); err != nil {
		u.Log.Error("render sign-in", "err", err)
	}
}

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

// login exchanges an API key for a session cookie. The key is checked by
// the store as for the REST API, then forgotten.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := safeNext(r.PostFormValue("next"))
	addr := clientAddr(r)
	if no, wait := u.throttle.blocked(addr, time.Now()); no {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.Log.Warn("ui sign-in refused: too many failed attempts", "client", addr)
		msg := fmt.Sprintf("Too many failed sign-ins from your address: try again in %d seconds.", secs)
		if err := u.render(w, http.StatusTooManyRequests, "login", view{Title: "Sign in", Data: next, Error: msg}); err != nil {
			u.Log.Error("render sign-in", "err", err)
		}
		return
	}
	k, err := u.Store.AuthenticateAPIKey(r.Context(), key)
	if err != nil {
		msg := "Sign-in failed: " + err.Error()
		if errors.Is(err, store.ErrUnauthorized) || key == "" {
			u.throttle.fail(addr, time.Now())
			msg = "That API key is unknown or revoked. Create one with: forewarn apikey create --name NAME --role read|admin"
		}
		if err := u.render(w, http.StatusUnauthorized, "login", view{Title: "Sign in", Data: next, Error: msg}); err != nil {
			u.Log.Error("render sign-in", "err", err)
		}
		return
	}
	id, err := u.createSession(r.Context(), k)
	if err != nil {
		u.Log.Error("ui sign-in: store the session", "err", err)
		http.Error(w, "Sign-in failed: the session could not be stored ("+err.Error()+"). Try again; if it persists, check the store.", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: u.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(SessionTTL.Seconds())})
	u.Log.Info("ui sign-in", "key", k.Name, "role", k.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, se *session) error {
	if !se.validCSRF(r) {
		http.Error(w, "The form's CSRF token is missing or stale: reload the page and try again.", http.StatusForbidden)
		return nil
	}
	if err := u.endSession(r); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: u.Secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
