package apikey

import (
	"strings"
	"testing"
)

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Role
		ok   bool
	}{
		{"read", RoleRead, true},
		{"admin", RoleAdmin, true},
		{" Admin ", RoleAdmin, true},
		{"", "", false},
		{"write", "", false},
		{"root", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRole(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseRole(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && (!strings.Contains(err.Error(), "read") || !strings.Contains(err.Error(), "admin")) {
				t.Errorf("error does not name the valid roles: %v", err)
			}
		})
	}
}

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		r, need Role
		want    bool
	}{
		{RoleAdmin, RoleRead, true},
		{RoleAdmin, RoleAdmin, true},
		{RoleRead, RoleRead, true},
		{RoleRead, RoleAdmin, false},
		// A SIEM's key reports sightings and can do nothing else.
		{RoleSightings, RoleSightings, true},
		{RoleSightings, RoleRead, false},
		{RoleSightings, RoleAdmin, false},
		{RoleRead, RoleSightings, false},
		{RoleAdmin, RoleSightings, true},
		{Role("root"), RoleRead, false},
		{RoleAdmin, Role("root"), false},
		{"", RoleRead, false},
	} {
		if got := tc.r.Allows(tc.need); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.r, tc.need, got, tc.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		key, hash, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, "fwk_") || len(key) != 4+43 {
			t.Fatalf("key %q: want fwk_ and 43 base64url characters (256 bits)", key)
		}
		for _, c := range key[4:] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("key %q has %q: not safe in a header", key, c)
			}
		}
		if hash != Hash(key) || len(hash) != 64 || strings.Contains(hash, key[4:]) {
			t.Fatalf("hash %q of %q", hash, key)
		}
		if seen[key] {
			t.Fatalf("key %q generated twice", key)
		}
		seen[key] = true
		if p := Prefix(key); p != key[4:12] {
			t.Fatalf("Prefix(%q) = %q", key, p)
		}
	}
}

func TestHashIsSHA256Hex(t *testing.T) {
	// printf %s fwk_test | sha256sum
	if got, want := Hash("fwk_test"), "310625864f84873aa1ae8f48db0222db2b1e93bf059aa6ccccc20f2b33ef71db"; got != want {
		t.Fatalf("Hash(fwk_test) = %s, want %s", got, want)
	}
}

func TestPrefixOfShortInput(t *testing.T) {
	if got := Prefix("fwk_abc"); got != "abc" {
		t.Errorf("Prefix(fwk_abc) = %q", got)
	}
	if got := Prefix(""); got != "" {
		t.Errorf("Prefix(\"\") = %q", got)
	}
}
