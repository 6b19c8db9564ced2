package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/secret"
)

func TestDefaultsAreValidAndMatchTheGuide(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Dataset != "A" || c.Threshold != 70 || c.Normalize || c.FilterByDate {
		t.Errorf("defaults differ from the guide: %+v", c)
	}
	if diff := cmp.Diff([]string{"malicious", "phishing", "botnet", "backscatter"}, c.Categories); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"Importance", "Detected Identifiers", "Detected Categories", "Last Seen At", "Cluster"}, c.Context); diff != "" {
		t.Error(diff)
	}
}

func TestSetAndValidateNameTheField(t *testing.T) {
	for _, tc := range []struct {
		key, value, field string
	}{
		{"dataset", "C", "dataset"},
		{"threshold", "101", "threshold"},
		{"threshold", "-0.5", "threshold"},
		{"threshold", "high", "threshold"},
		{"normalize", "maybe", "normalize"},
		{"context", "Importance,Colour", "context"},
		{"overlap", "two days", "overlap"},
		{"base_url", "ftp://x", "base_url"},
		{"tries", "0", "tries"},
		{"max_line", "12", "max_line"},
		{"max_netblock", "/0,/32", "max_netblock"},
		{"max_netblock", "/16,/129", "max_netblock"},
		{"max_netblock", "/16", "max_netblock"},
		{"max_netblock", "sixteen,/32", "max_netblock"},
		{"max_compressed", "lots", "max_compressed"},
		{"token", "abc", "token"},
		{"frequency", "30s", "frequency"},
		{"frequency", "every day", "frequency"},
		{"frequency", "0 3 * *", "frequency"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			c := Default()
			err := c.Set(tc.key, tc.value)
			if err == nil {
				err = c.Validate()
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v does not name field %s", err, tc.field)
			}
		})
	}
	c := Default()
	if err := c.Set("colour", "red"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestSetEdges(t *testing.T) {
	for _, v := range []string{"0", "100", "70", "69.5"} {
		c := Default()
		if err := c.Set("threshold", v); err != nil || c.Validate() != nil {
			t.Errorf("threshold %s rejected: %v %v", v, err, c.Validate())
		}
	}
	c := Default()
	_ = c.Set("categories", " Malicious\nBOTNET,,botnet ")
	if diff := cmp.Diff([]string{"malicious", "botnet"}, c.Categories); diff != "" {
		t.Error(diff)
	}
	_ = c.Set("categories", "")
	if len(c.Categories) != 0 {
		t.Error("empty categories should allow all")
	}
	_ = c.Set("context", "last seen at, importance ,CLUSTER")
	if diff := cmp.Diff([]string{"Importance", "Last Seen At", "Cluster"}, c.Context); diff != "" {
		t.Error(diff)
	}
	_ = c.Set("context", "all")
	if len(c.Context) != len(ContextNames) {
		t.Error("all should select every context")
	}
	_ = c.Set("max_decompressed", "2GiB")
	if c.MaxDecompressed != 2<<30 || c.MaxDecompressed.String() != "2GiB" {
		t.Errorf("size: %v", c.MaxDecompressed)
	}
}

func TestEncodeDecodeRoundTripStrict(t *testing.T) {
	c := Default()
	_ = c.Set("dataset", "b")
	_ = c.Set("normalize", "on")
	got, err := Decode(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(c.Encode()), string(got.Encode())); diff != "" {
		t.Error(diff)
	}
	if got.Dataset != "B" || !got.Normalize {
		t.Errorf("round trip lost values: %+v", got)
	}
	if _, err := Decode([]byte(`{"dataset":"A","colour":"red"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown key not rejected: %v", err)
	}
}

func TestParseFrequency(t *testing.T) {
	for v, want := range map[string]Schedule{
		"24h":       {Interval: 24 * time.Hour},
		" 6h30m ":   {Interval: 6*time.Hour + 30*time.Minute},
		"1m":        {Interval: time.Minute},
		"0 3 * * *": {Cron: "0 3 * * *"},
		"@daily":    {Cron: "@daily"},
		"@every 2h": {Cron: "@every 2h"},
	} {
		got, err := ParseFrequency(v)
		if err != nil || got != want {
			t.Errorf("ParseFrequency(%q) = %+v, %v; want %+v", v, got, err, want)
		}
	}
	// An interval under a minute is refused however it is written: a
	// schedule that hammers the vendor is a typo, not a setting.
	for _, v := range []string{"30s", "@every 15s", "@every 59s"} {
		var fe *FieldError
		if _, err := ParseFrequency(v); !errors.As(err, &fe) || fe.Field != "frequency" || !strings.Contains(err.Error(), "at least 1m0s") {
			t.Errorf("ParseFrequency(%q): %v, want a frequency error naming the one-minute minimum", v, err)
		}
	}
}

func TestAgeOut(t *testing.T) {
	c := Default()
	if c.AgeOut != AgeOut(90*24*time.Hour) || !c.AllowlistSpecialRanges {
		t.Fatalf("defaults: age_out %s, special ranges %v", c.AgeOut, c.AllowlistSpecialRanges)
	}
	for _, tc := range []struct {
		in   string
		want AgeOut
	}{{"never", Never}, {"NEVER", Never}, {"720h", AgeOut(720 * time.Hour)}, {"1h", AgeOut(time.Hour)}} {
		c := Default()
		if err := c.Set("age_out", tc.in); err != nil || c.AgeOut != tc.want || c.Validate() != nil {
			t.Errorf("age_out=%s: %v, %v", tc.in, c.AgeOut, err)
		}
		// It round-trips through the stored form.
		back, err := Decode(c.Encode())
		if err != nil || back.AgeOut != tc.want {
			t.Errorf("age_out=%s after encode/decode: %v, %v", tc.in, back.AgeOut, err)
		}
	}
	for _, bad := range []string{"0", "-5h", "soon", "90d"} {
		c := Default()
		var fe *FieldError
		if err := c.Set("age_out", bad); !errors.As(err, &fe) || fe.Field != "age_out" {
			t.Errorf("age_out=%s: %v, want a FieldError naming age_out", bad, err)
		}
	}
	c.AgeOut = AgeOut(time.Minute)
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "age_out" {
		t.Errorf("age_out 1m: %v", err)
	}
	// Neither key changes what a run stores from the dump.
	a, b := Default(), Default()
	b.AgeOut, b.AllowlistSpecialRanges = Never, false
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("age_out or allowlist_special_ranges changes the fingerprint")
	}
	if err := b.Set("allowlist_special_ranges", "maybe"); !errors.As(err, &fe) || fe.Field != "allowlist_special_ranges" {
		t.Errorf("allowlist_special_ranges=maybe: %v", err)
	}
}

// TestMaxNetblock: the default is /16,/32; a stored value round-trips
// through strict decoding and changes the fingerprint.
func TestMaxNetblock(t *testing.T) {
	c := Default()
	if c.MaxNetblock != (MaxNetblock{16, 32}) || c.MaxNetblock.String() != "/16,/32" {
		t.Fatalf("default %v", c.MaxNetblock)
	}
	before := c.Fingerprint()
	if err := c.Set("max_netblock", "/20, 48"); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(c.Encode())
	if err != nil || got.MaxNetblock != (MaxNetblock{20, 48}) {
		t.Fatalf("round trip: %v %v", got.MaxNetblock, err)
	}
	if got.Fingerprint() == before {
		t.Error("max_netblock does not change the fingerprint")
	}
	if _, err := Decode([]byte(`{"max_netblock":"/4,/32"}`)); err == nil || !strings.Contains(err.Error(), "max_netblock") {
		t.Errorf("decoding /4: %v", err)
	}
}

// TestBaseURLIsAnOriginAndPrefix: base_url cannot carry what would send the
// token elsewhere or cut off the dump path (issue 13 C10).
func TestBaseURLIsAnOriginAndPrefix(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://api.seclytics.com", true},
		{"https://api.seclytics.com/v2", true},
		{"https://api.seclytics.com/v2/", true},
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:9/prefix", true},
		{"http://localhost:9", true},
		{"http://attacker.example", false},
		{"http://10.0.0.1", false},
		{"http://169.254.169.254/latest/meta-data/#", false},
		{"https://api.seclytics.com/#", false},
		{"https://api.seclytics.com/x#y", false},
		{"https://api.seclytics.com/x?", false},
		{"https://api.seclytics.com/?a=1", false},
		{"https://user:pw@api.seclytics.com", false},
		{"https://user@api.seclytics.com", false},
		{"https://api.seclytics.com/a/../../b", false},
		{"https://api.seclytics.com/a\\b", false},
		{"ftp://api.seclytics.com", false},
		{"api.seclytics.com", false},
		{"https://" + strings.Repeat("a", 3000) + ".com", false},
	} {
		c := Default()
		c.BaseURL = tc.url
		err := c.Validate()
		var fe *FieldError
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &fe) || fe.Field != "base_url")) {
			t.Errorf("base_url %.60q: %v, want ok=%v or a base_url FieldError", tc.url, err, tc.ok)
		}
	}
}

func TestChangingTheOriginDropsTheToken(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		tokenSet bool
		keep     bool
	}{
		{"https://api.seclytics.com", "https://api.seclytics.com/v2", false, true},
		{"https://api.seclytics.com", "https://API.seclytics.com:443", false, true},
		{"https://api.seclytics.com", "https://api.seclytics.com:8443", false, false},
		{"https://api.seclytics.com", "http://127.0.0.1:80", false, false},
		{"https://api.seclytics.com", "https://other.example", false, false},
		{"https://api.seclytics.com", "https://other.example", true, true},
	} {
		prev, next := Default(), Default()
		prev.BaseURL, next.BaseURL = tc.from, tc.to
		prev.Token = secret.New("tok")
		next.Token = prev.Token
		next.KeepTokenFor(prev, tc.tokenSet)
		if next.Token.IsSet() != tc.keep {
			t.Errorf("%s -> %s (token set: %v): token kept %v, want %v", tc.from, tc.to, tc.tokenSet, next.Token.IsSet(), tc.keep)
		}
	}
}

func TestSightingExtends(t *testing.T) {
	if c := Default(); c.SightingExtends != SightingExtends(30*24*time.Hour) {
		t.Fatalf("default sighting_extends: %s", c.SightingExtends)
	}
	// A configuration stored before the key existed gets the default.
	if c, err := Decode([]byte(`{"dataset":"A"}`)); err != nil || c.SightingExtends != DefaultSightingExtends {
		t.Fatalf("old stored configuration: %s, %v", c.SightingExtends, err)
	}
	for _, tc := range []struct {
		in   string
		want SightingExtends
	}{{"off", 0}, {"OFF", 0}, {"0", 0}, {"720h", SightingExtends(720 * time.Hour)}, {"1h", SightingExtends(time.Hour)}} {
		c := Default()
		if err := c.Set("sighting_extends", tc.in); err != nil || c.SightingExtends != tc.want || c.Validate() != nil {
			t.Errorf("sighting_extends=%s: %v, %v", tc.in, c.SightingExtends, err)
		}
		back, err := Decode(c.Encode())
		if err != nil || back.SightingExtends != tc.want {
			t.Errorf("sighting_extends=%s after encode/decode: %v, %v", tc.in, back.SightingExtends, err)
		}
	}
	for _, bad := range []string{"-5h", "soon", "30d", "30m", "100000h"} {
		c := Default()
		err := c.Set("sighting_extends", bad)
		if err == nil {
			err = c.Validate()
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "sighting_extends" {
			t.Errorf("sighting_extends=%s: %v, want a FieldError naming sighting_extends", bad, err)
		}
	}
}
