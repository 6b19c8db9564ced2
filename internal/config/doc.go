// Package config defines the Seclytics feed's configuration: the guide's
// parameters plus forewarn's operational limits, their defaults, strict
// decoding, key=value editing and validation that names the bad field.
//
// It must never read global state (flags, environment) or do I/O: callers
// pass values in and the store persists the result.
package config
