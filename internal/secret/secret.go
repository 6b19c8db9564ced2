package secret

import (
	"fmt"
	"log/slog"
	"strings"
)

// Redacted is what a secret shows instead of its value.
const Redacted = "[REDACTED]"

// String is a secret string. Its zero value is "not configured".
type String struct {
	v string
}

// New wraps s. Surrounding blanks and line ends (a token file usually ends in
// a newline) are trimmed.
func New(s string) String {
	return String{v: strings.TrimSpace(s)}
}

// Reveal returns the value. Call it only where the value leaves the process.
func (s String) Reveal() string { return s.v }

// IsSet reports whether a value is configured.
func (s String) IsSet() bool { return s.v != "" }

// String implements fmt.Stringer without showing the value.
func (s String) String() string {
	if s.v == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s String) GoString() string { return "secret.String(" + Redacted + ")" }

// Format makes every fmt verb print the redacted form.
func (s String) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue keeps log/slog from printing the value.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders from writing the value.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON keeps encoding/json from writing the value.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Scrub replaces every occurrence of the secret's value in text. It is the
// last line of defence for messages built from third-party errors.
func (s String) Scrub(text string) string {
	if len(s.v) < 4 { // too short to be a real token; replacing would mangle text
		return text
	}
	return strings.ReplaceAll(text, s.v, Redacted)
}
