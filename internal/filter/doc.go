// Package filter decides which validated predictions a run keeps: the
// guide's importance threshold, detected-category whitelist and date window.
//
// It only reads rows and answers with a reason. It must never change a row or
// count anything: the caller counts drops by reason.
package filter
