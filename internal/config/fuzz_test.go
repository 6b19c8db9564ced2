package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/secret"
)

// FuzzConfig checks configuration decoding and validation, which guard
// everything stored in the feeds table and every --set and run flag:
//   - Decode never panics; what it accepts is valid and survives an
//     Encode/Decode round trip unchanged;
//   - Set never panics, and a Set followed by a successful Validate gives a
//     configuration that survives the round trip too, whose encoding never
//     carries the token;
//   - every refusal of Validate is a *FieldError naming a known key.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"dataset":"B","threshold":85.5,"categories":["malicious"],"context":["Importance"],"overlap":"24h","max_line":"2MiB"}`), "threshold", "70")
	f.Add([]byte(`{"dataset":"C"}`), "dataset", "b")
	f.Add([]byte(`{"threshold":1e400}`), "max_line", "1023")
	f.Add([]byte(`{"unknown":1}`), "categories", "Malicious,\nBOTNET,,malicious")
	f.Add([]byte(`{"base_url":"http://127.0.0.1:1/x?a=b"}`), "base_url", "ftp://x")
	f.Add([]byte(`{"idle_timeout":"-1s","tries":0}`), "context", "all")
	f.Add([]byte(`null`), "token", "secret-value")
	f.Add([]byte(`{"max_compressed":"9223372036854775807TiB"}`), "max_compressed", "4611686018427387904")
	f.Add([]byte(`{"context":["importance"]}`), "threshold", "NaN")
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		if c, err := Decode(data); err == nil {
			roundTrip(t, c)
		} else {
			checkFieldError(t, err, false)
		}

		c := Default()
		c.Token = secret.New("tok-FUZZ-5f2b9c0e")
		err := c.Set(key, value)
		if errors.Is(err, ErrUnknownKey) {
			return
		}
		if err != nil {
			checkFieldError(t, err, true)
			return
		}
		if err := c.Validate(); err != nil {
			checkFieldError(t, err, true)
			return
		}
		if bytes.Contains(c.Encode(), []byte("tok-FUZZ")) {
			t.Fatalf("the encoding carries the token: %s", c.Encode())
		}
		roundTrip(t, c)
	})
}

func roundTrip(t *testing.T, c Seclytics) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("accepted an invalid configuration %s: %v", c.Encode(), err)
	}
	back, err := Decode(c.Encode())
	if err != nil {
		t.Fatalf("Decode(Encode()) of %s: %v", c.Encode(), err)
	}
	c.Token = secret.String{}
	if diff := cmp.Diff(c, back, cmp.AllowUnexported(secret.String{})); diff != "" {
		t.Fatalf("the round trip changed the configuration (-before +after):\n%s", diff)
	}
	if c.Fingerprint() != back.Fingerprint() {
		t.Fatalf("the round trip changed the fingerprint: %s -> %s", c.Fingerprint(), back.Fingerprint())
	}
}

// checkFieldError asserts that err names a known configuration field. JSON
// syntax and type errors from Decode are exempt unless strict.
func checkFieldError(t *testing.T, err error, strict bool) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		if strict {
			t.Fatalf("error %v is not a *FieldError", err)
		}
		return
	}
	known := append([]string{"token", "size", "duration"}, Keys...)
	for _, k := range known {
		if fe.Field == k {
			return
		}
	}
	t.Fatalf("error names field %q, not one of %s", fe.Field, strings.Join(known, ", "))
}
