package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Feed tokens are stored encrypted with AES-256-GCM under a key kept in a
// file beside the database, <db>.key, created with mode 0600 the first time
// a token is saved. The database file alone (a backup, a copy attached to a
// bug report, a .dump) then does not reveal the token; someone who can read
// both files can. docs/reliability.md weighs this against the alternatives.

// sealedPrefix marks an encrypted token in the feeds.token column; a value
// without it is a plain-text token stored by an older forewarn.
const sealedPrefix = "enc:v1:"

// KeyPath returns the path of the file holding the key that encrypts the
// stored tokens.
func (s *Store) KeyPath() string { return s.keyPath }

// ErrTokenKey is wrapped when the stored token cannot be decrypted: the key
// file is missing, unreadable, too widely readable, or not the one the
// token was encrypted with.
var ErrTokenKey = errors.New("the stored access token cannot be decrypted")

// tokenKey reads the key file, creating it if create is set and it does not
// exist yet.
func (s *Store) tokenKey(create bool) ([]byte, error) {
	path := s.KeyPath()
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := createKey(path); err != nil {
			return nil, err
		}
		key, err = readKey(path)
	}
	return key, err
}

func readKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: the key file %s is readable by other users (mode %04o): run chmod 600 %s",
			ErrTokenKey, path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read the key file: %w", ErrTokenKey, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: the key file %s is damaged (want 64 hex digits): store the token again with forewarn config seclytics --token-file FILE",
			ErrTokenKey, path)
	}
	return key, nil
}

// createKey writes a new random key to path, mode 0600. It is written to a
// temporary file and linked into place, so a reader never sees half a key
// and two processes creating it at once agree on one.
func createKey(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("create the token key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".forewarn-key-*")
	if err != nil {
		return fmt.Errorf("create the token key beside the database: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			err = nil // another process was first: use its key
		}
	}
	if err != nil {
		return fmt.Errorf("create the token key %s: %w", path, err)
	}
	return nil
}

// sealToken encrypts token for the feeds row of feed. The feed's name is
// authenticated with it, so a sealed token cannot be moved to another feed.
func sealToken(key []byte, feed, token string) (string, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(token)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypt the access token: %w", err)
	}
	sealed := gcm.Seal(nonce, nonce, []byte(token), []byte(feed))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// openToken decrypts a value written by sealToken.
func openToken(key []byte, feed, stored, keyPath string) (string, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
	if err == nil && len(raw) < gcm.NonceSize() {
		err = errors.New("too short")
	}
	var plain []byte
	if err == nil {
		plain, err = gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(feed))
	}
	if err != nil {
		return "", fmt.Errorf("%w with the key in %s (was the key file replaced?): store the token again with forewarn config %s --token-file FILE",
			ErrTokenKey, keyPath, feed)
	}
	return string(plain), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	return cipher.NewGCM(block)
}
