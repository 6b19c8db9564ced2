package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"

	"forewarn/internal/api"
	"forewarn/internal/taxii"
)

// recoverPanics turns a handler's panic into one log line and a 500 in the
// shape the path's clients expect, so that one bad request never takes the
// connection, let alone the process, with it. The stack goes to the log
// only: it names internals a client has no use for.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &panicWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				panic(v)
			}
			log.Error("request panicked: this is a bug in forewarn, please report it",
				"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", stackLine())
			if pw.wrote {
				// Part of a reply is out: cutting the connection is the
				// only way left to tell the client it is incomplete.
				panic(http.ErrAbortHandler)
			}
			writePanicReply(w, r)
		}()
		next.ServeHTTP(pw, r)
	})
}

// writePanicReply answers 500 in the API's or TAXII's error shape, or as
// plain text for the UI.
func writePanicReply(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch {
	case strings.HasPrefix(r.URL.Path, api.Prefix+"/") || r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":"internal error: see the server's log"}}`+"\n", api.CodeInternal)
	case strings.HasPrefix(r.URL.Path, taxii.Root):
		h.Set("Content-Type", taxii.MediaTAXII)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, `{"title":"Internal error","description":"see the server's log","http_status":"500"}`)
	default:
		http.Error(w, "Something went wrong on the server: see its log.", http.StatusInternalServerError)
	}
}

// stackLine is the panicking goroutine's stack, bounded: the log line
// stays one line (the handler quotes newlines) of reasonable size.
func stackLine() string {
	buf := make([]byte, 8<<10)
	return string(buf[:runtime.Stack(buf, false)])
}

// panicWriter notes whether any of the reply went out.
type panicWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *panicWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *panicWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *panicWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
