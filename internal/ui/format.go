package ui

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// TimeLayout is the one way the UI writes a time: to the second, with its
// zone named. The zone is UTC unless the signed-in API key chose another
// (the footer's local-time button stores the browser's zone with the key):
// the server writes every time in it, so the page needs no script to be
// right.
const TimeLayout = "2006-01-02 15:04:05 MST"

// thousands writes n with a comma between groups of three digits, as the
// charts' axes do: 175,934.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// num is the template function for every count: any integer type, with
// thousands separators.
func num(v any) string {
	switch n := v.(type) {
	case int:
		return thousands(int64(n))
	case int64:
		return thousands(n)
	case int32:
		return thousands(int64(n))
	case uint64:
		return thousands(int64(n))
	case float64:
		if n == float64(int64(n)) {
			return thousands(int64(n))
		}
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return ""
}

// timeHTML is a <time> element in TimeLayout in loc, with the UTC time as
// its title when loc is another zone; "—" for none.
func timeHTML(loc *time.Location, v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	u := t.UTC()
	attr := `<time datetime="` + u.Format(time.RFC3339) + `"`
	if loc != time.UTC {
		attr += ` title="` + u.Format(TimeLayout) + `"`
	}
	return template.HTML(attr + `>` + template.HTMLEscapeString(t.In(loc).Format(TimeLayout)) + `</time>`)
}

// valueText is an attribute value as the UI writes it: dates in
// TimeLayout in loc (a day-granular date without its midnight, as the
// day it names), numbers with thousands separators, lists joined.
func valueText(loc *time.Location, v indicator.Value) string {
	if loc == nil {
		loc = time.UTC
	}
	switch v.Kind {
	case indicator.KindDate:
		t := v.Time.UTC()
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
			return t.Format("2006-01-02")
		}
		return t.In(loc).Format(TimeLayout)
	case indicator.KindNumber:
		return num(v.Number)
	}
	return v.String()
}
