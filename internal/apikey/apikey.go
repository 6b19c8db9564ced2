package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Role is what a key may do.
type Role string

// Roles. Admin may do everything read may, and change things. Sightings
// may only report sightings (a SIEM's webhook): it reads nothing.
const (
	RoleRead      Role = "read"
	RoleAdmin     Role = "admin"
	RoleSightings Role = "sightings"
)

// Roles lists the valid roles, least powerful first.
var Roles = []Role{RoleSightings, RoleRead, RoleAdmin}

// ParseRole returns the role named s (case-insensitive).
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	switch r {
	case RoleRead, RoleAdmin, RoleSightings:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: use %s, %s or %s", s, RoleRead, RoleAdmin, RoleSightings)
}

// Allows reports whether a key with role r may do what needs role need: admin
// allows everything, read allows read, sightings allows sightings only, and
// an unknown role allows nothing.
func (r Role) Allows(need Role) bool {
	switch r {
	case RoleAdmin:
		return need == RoleRead || need == RoleAdmin || need == RoleSightings
	case RoleRead:
		return need == RoleRead
	case RoleSightings:
		return need == RoleSightings
	}
	return false
}

// KeyPrefix starts every key, so that a key found in a file or a log is
// recognisable as a forewarn key (and secret scanners can match it).
const KeyPrefix = "fwk_"

// keyBytes is the key's entropy: 256 bits.
const keyBytes = 32

// OutputKeyPrefix starts every output profile's key: it opens one
// profile's feed and nothing else, and a person can tell it from an API key.
const OutputKeyPrefix = "fwo_"

// GenerateOutput returns a new random output profile key (OutputKeyPrefix
// and 256 random bits), its hash and the prefix listings show.
func GenerateOutput() (key, hash, prefix string, err error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("generate output key: %w", err)
	}
	key = OutputKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, Hash(key), key[len(OutputKeyPrefix) : len(OutputKeyPrefix)+prefixLen], nil
}

// Generate returns a new random key and its hash. The key is KeyPrefix and
// 256 random bits in unpadded base64url: printable, and safe in a header.
func Generate() (key, hash string, err error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate API key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, Hash(key), nil
}

// Hash returns the hex SHA-256 of the whole key, as the store keeps it. A
// key has 256 random bits, so a fast unsalted hash is enough: there is
// nothing to guess from a dictionary.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// prefixLen is how many characters after KeyPrefix a listing shows.
const prefixLen = 8

// Prefix returns the first 8 characters after "fwk_", which listings show so
// that a person can tell keys apart without seeing them. It reveals 48 of
// the key's 256 bits.
func Prefix(key string) string {
	s := strings.TrimPrefix(key, KeyPrefix)
	if len(s) > prefixLen {
		s = s[:prefixLen]
	}
	return s
}
