package output

import (
	"fmt"
)

// MaxOutputs is how many profiles a store may hold: profile names are
// labels of the /metrics series, which must stay bounded.
const MaxOutputs = 64

// maxName bounds a profile's name: it is a path segment and a label.
const maxName = 40

// CheckName says what is wrong with a profile's name, if anything: 1 to 40
// lower-case letters, digits, - and _, starting with a letter or digit,
// so that it is safe in a URL path and a metric label as it is.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("name the output, for example after the device that fetches it")
	}
	if len(name) > maxName {
		return fmt.Errorf("output name %q is longer than %d characters", name, maxName)
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("output name %q has %q: use lower-case letters, digits, - and _, starting with a letter or digit", name, c)
		}
	}
	return nil
}
