// Package apikey makes and recognises the API keys that clients of the REST
// API present as "Authorization: Bearer KEY", and the roles a key can hold.
//
// A key is shown to a person once, when it is made; only its SHA-256 hash
// and a short prefix (to recognise it in listings) are ever stored. The
// package must never store, log or print a key itself, and never do I/O
// beyond reading random bytes.
package apikey
