package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Failed sign-ins are limited per key tried and per client address: API
// keys cannot be guessed, but a flood of attempts fills the log and costs
// key lookups. A key that keeps failing (a script with a revoked key) is
// refused on its own, so it locks no one else out; only many different
// wrong keys from one address close that address, with a limit high enough
// for the users behind a proxy (name it with --trusted-proxy to count them
// one by one).
const (
	MaxFailedSignIns           = 10  // per key tried, per window
	MaxFailedSignInsPerAddress = 100 // per client address, per window
	SignInWindow               = time.Minute
	// maxThrottled bounds the keys and addresses remembered; beyond it
	// the oldest windows are dropped.
	maxThrottled = 10000
)

type throttle struct {
	mu     sync.Mutex
	byAddr windows
	byKey  windows
}

type windows map[string]*window

type window struct {
	start  time.Time
	failed int
}

// keyID names a tried key in memory without keeping it.
func keyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12])
}

// blocked reports whether addr or key reached its limit in the current
// window, which of them, and when it may try again.
func (t *throttle) blocked(addr, key string, now time.Time) (bool, string, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wait, ok := t.byKey.over(keyID(key), MaxFailedSignIns, now); ok {
		return true, "key", wait
	}
	if wait, ok := t.byAddr.over(addr, MaxFailedSignInsPerAddress, now); ok {
		return true, "address", wait
	}
	return false, "", 0
}

// fail records a failed sign-in from addr with key.
func (t *throttle) fail(addr, key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byAddr == nil {
		t.byAddr, t.byKey = windows{}, windows{}
	}
	t.byAddr.add(addr, now)
	t.byKey.add(keyID(key), now)
}

func (ws windows) over(id string, limit int, now time.Time) (time.Duration, bool) {
	w := ws[id]
	if w == nil || now.Sub(w.start) >= SignInWindow {
		return 0, false
	}
	return SignInWindow - now.Sub(w.start), w.failed >= limit
}

func (ws windows) add(id string, now time.Time) {
	w := ws[id]
	if w == nil || now.Sub(w.start) >= SignInWindow {
		if len(ws) >= maxThrottled {
			for a, old := range ws {
				if now.Sub(old.start) >= SignInWindow {
					delete(ws, a)
				}
			}
			if len(ws) >= maxThrottled {
				clear(ws)
			}
		}
		w = &window{start: now}
		ws[id] = w
	}
	w.failed++
}
