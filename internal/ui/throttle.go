package ui

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Failed sign-ins are limited per client address: API keys cannot be
// guessed, but a flood of attempts fills the log and costs key lookups.
const (
	MaxFailedSignIns = 10
	SignInWindow     = time.Minute
	// maxThrottled bounds the addresses remembered; beyond it the oldest
	// windows are dropped.
	maxThrottled = 10000
)

type throttle struct {
	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	start  time.Time
	failed int
}

// clientAddr is the request's remote address without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether addr failed MaxFailedSignIns times in the current
// window, and when it may try again.
func (t *throttle) blocked(addr string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.m[addr]
	if w == nil || now.Sub(w.start) >= SignInWindow {
		return false, 0
	}
	return w.failed >= MaxFailedSignIns, SignInWindow - now.Sub(w.start)
}

// fail records a failed sign-in from addr.
func (t *throttle) fail(addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*window{}
	}
	w := t.m[addr]
	if w == nil || now.Sub(w.start) >= SignInWindow {
		if len(t.m) >= maxThrottled {
			for a, old := range t.m {
				if now.Sub(old.start) >= SignInWindow {
					delete(t.m, a)
				}
			}
			if len(t.m) >= maxThrottled {
				clear(t.m)
			}
		}
		w = &window{start: now}
		t.m[addr] = w
	}
	w.failed++
}
