// Package secret holds credentials, such as the Seclytics access token, in a
// type that cannot leak by accident.
//
// A [String] prints, formats, logs and marshals as "[REDACTED]". The only way
// to read the value is [String.Reveal], which callers use at the one place the
// value leaves the process (an outgoing request). The package must never
// offer a conversion that prints the value.
package secret
