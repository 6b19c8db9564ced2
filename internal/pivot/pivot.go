package pivot

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
)

// Placeholder is what a template's address goes in place of.
const Placeholder = "{ip}"

// MaxLinks bounds the list, and MaxName and MaxTemplate each link: they
// are shown on every detail page.
const (
	MaxLinks    = 20
	MaxName     = 40
	MaxTemplate = 500
)

// Link is one pivot: a name shown on the page and the URL template the
// address is put into.
type Link struct {
	Name     string
	Template string
}

// URL is the link's address for a: the template with every {ip} replaced
// by a, path-escaped (an IPv6 zone's % cannot break out).
func (l Link) URL(a netip.Addr) string {
	return strings.ReplaceAll(l.Template, Placeholder, url.PathEscape(a.String()))
}

// Parse reads one pivot as NAME=TEMPLATE, e.g.
// "Shodan=https://www.shodan.io/host/{ip}". The template must be an
// absolute http or https URL without user info that contains {ip}.
func Parse(s string) (Link, error) {
	name, tmpl, ok := strings.Cut(s, "=")
	name, tmpl = strings.TrimSpace(name), strings.TrimSpace(tmpl)
	if !ok || name == "" || tmpl == "" {
		return Link{}, fmt.Errorf("pivot %q: write it as NAME=URL, e.g. Shodan=https://www.shodan.io/host/{ip}", s)
	}
	if len(name) > MaxName {
		return Link{}, fmt.Errorf("pivot name %q is longer than %d bytes: shorten it", name, MaxName)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return Link{}, fmt.Errorf("pivot name %q has a control character: remove it", name)
		}
	}
	if len(tmpl) > MaxTemplate {
		return Link{}, fmt.Errorf("pivot %s: the URL is longer than %d bytes", name, MaxTemplate)
	}
	if !strings.Contains(tmpl, Placeholder) {
		return Link{}, fmt.Errorf("pivot %s: the URL %q has no %s: put %s where the address goes", name, tmpl, Placeholder, Placeholder)
	}
	// Check the URL with an address in place, as the browser will see it.
	u, err := url.Parse(strings.ReplaceAll(tmpl, Placeholder, "192.0.2.1"))
	if err != nil {
		return Link{}, fmt.Errorf("pivot %s: the URL %q does not parse: %w", name, tmpl, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return Link{}, fmt.Errorf("pivot %s: the URL %q is not an absolute http or https URL", name, tmpl)
	}
	if u.User != nil {
		return Link{}, fmt.Errorf("pivot %s: the URL %q has user info: a credential in a link reaches every user's browser; remove it", name, tmpl)
	}
	return Link{Name: name, Template: tmpl}, nil
}

// ParseAll reads a list of pivots, each as Parse takes it; names are
// unique and the list has at most MaxLinks.
func ParseAll(specs []string) ([]Link, error) {
	if len(specs) > MaxLinks {
		return nil, fmt.Errorf("%d pivot links: at most %d are shown", len(specs), MaxLinks)
	}
	var out []Link
	var errs []error
	seen := map[string]bool{}
	for _, s := range specs {
		l, err := Parse(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[l.Name] {
			errs = append(errs, fmt.Errorf("pivot %s is given twice: keep one", l.Name))
			continue
		}
		seen[l.Name] = true
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}
