// Package filter decides which validated predictions a run keeps: the
// guide's importance threshold, detected-category whitelist and date window.
//
// It only reads rows and answers with a reason. It must never change a row or
// count anything: the caller counts drops by reason.
//
// The Seclytics runner now filters with the seclytics feed definition's
// filters (internal/feeddef); this package stays as the hand-written
// reference those filters are tested against.
package filter
