package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"forewarn/internal/apikey"
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

const cookieName = "forewarn_session"

// session is a signed-in browser. The API key itself is never kept: only
// who it belongs to and its role.
type session struct {
	KeyID   int64
	KeyName string
	Role    apikey.Role
	CSRF    string
	Expires time.Time
}

// sessions is the server-side session map, keyed by a random cookie value.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(keyID int64, name string, role apikey.Role) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, se := range s.m {
		if now.After(se.Expires) {
			delete(s.m, id)
		}
	}
	id := randomToken()
	se := &session{KeyID: keyID, KeyName: name, Role: role, CSRF: randomToken(), Expires: now.Add(SessionTTL)}
	s.m[id] = se
	return id, se
}

func (s *sessions) get(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[c.Value]
	if !ok || time.Now().After(se.Expires) {
		delete(s.m, c.Value)
		return nil, false
	}
	return se, true
}

func (s *sessions) delete(r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.m, c.Value)
		s.mu.Unlock()
	}
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
