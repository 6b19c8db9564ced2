package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"forewarn/internal/config"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// Error is the body of every error reply.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

type errorBody struct {
	Error Error `json:"error"`
}

// Error codes.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
)

// apiError is an error with its HTTP status and code.
type apiError struct {
	status int
	body   Error
}

func (e *apiError) Error() string { return e.body.Message }

func badRequest(field, format string, args ...any) error {
	return &apiError{http.StatusBadRequest, Error{CodeBadRequest, fmt.Sprintf(format, args...), field}}
}

func notFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}}
}

// writeJSON replies with v. It encodes v before sending anything, so that
// a value JSON cannot hold becomes a 500 in the error shape, never a 200
// with an empty body; the cause goes to the log through encodeReporter.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		if rep, ok := w.(encodeReporter); ok {
			rep.encodeFailed(err)
		}
		status = http.StatusInternalServerError
		b.Reset()
		_ = json.NewEncoder(&b).Encode(errorBody{Error{Code: CodeInternal,
			Message: "internal error: the reply could not be encoded as JSON: see the server's log"}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// encodeReporter is told when writeJSON could not encode a reply.
type encodeReporter interface{ encodeFailed(error) }

// replyWriter logs the encoding failures of one request's reply.
type replyWriter struct {
	http.ResponseWriter
	s *Server
	r *http.Request
}

func (rw replyWriter) encodeFailed(err error) {
	rw.s.log.Error("reply could not be encoded", "method", rw.r.Method, "route", rw.r.Pattern, "err", err)
}

// Unwrap lets http.ResponseController reach the connection.
func (rw replyWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// writeError replies with err in the common shape. Errors the client did
// not cause are logged and reported without internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var fe *config.FieldError
	var ve *service.ValidationError
	var ip *store.InProgressError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &ve):
		ae = &apiError{http.StatusBadRequest, Error{CodeBadRequest, ve.Error(), ve.Field()}}
	case errors.As(err, &fe):
		ae = &apiError{http.StatusBadRequest, Error{CodeBadRequest, fe.Error(), fe.Field}}
	case errors.As(err, &ip):
		ae = &apiError{http.StatusConflict, Error{Code: CodeConflict, Message: ip.Error()}}
	case errors.As(err, &mb):
		ae = &apiError{http.StatusRequestEntityTooLarge, Error{Code: CodeTooLarge, Message: fmt.Sprintf("the request body is over %d bytes", mb.Limit)}}
	case errors.Is(err, store.ErrNotFound):
		ae = &apiError{http.StatusNotFound, Error{Code: CodeNotFound, Message: err.Error()}}
	case errors.Is(err, store.ErrBadCursor):
		ae = &apiError{http.StatusBadRequest, Error{CodeBadRequest, err.Error(), "cursor"}}
	case errors.Is(err, store.ErrBadQuery):
		ae = &apiError{http.StatusBadRequest, Error{Code: CodeBadRequest, Message: err.Error()}}
	case errors.Is(err, store.ErrConflict):
		ae = &apiError{http.StatusConflict, Error{Code: CodeConflict, Message: err.Error()}}
	case errors.Is(err, store.ErrBusy):
		// A feed run (here or in another process) holds the store's
		// write lock past the request's budget: temporary, say when to
		// come back rather than the database's own error.
		w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
		ae = &apiError{http.StatusServiceUnavailable, Error{Code: CodeUnavailable, Message: "the store is busy: a feed run is writing to it; try again in a minute"}}
	case r.Context().Err() != nil:
		ae = &apiError{http.StatusServiceUnavailable, Error{Code: CodeUnavailable, Message: "the request was canceled or timed out: try again"}}
	default:
		s.log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
		ae = &apiError{http.StatusInternalServerError, Error{Code: CodeInternal, Message: "internal error: see the server's log"}}
	}
	writeJSON(w, ae.status, errorBody{ae.body})
}

// busyRetryAfter is the Retry-After, in seconds, of a request that found
// the store busy: a feed run's commit takes up to about a minute.
const busyRetryAfter = 60

// maxBody bounds every request body.
const maxBody = 2 << 20

// decodeBody decodes a JSON body strictly into v: unknown fields, trailing
// data and wrong types are errors naming the field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "the body must hold one JSON object and nothing after it")
	}
	return nil
}

// jsonError turns a decoding error into one that names the field.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mb *http.MaxBytesError
	var fe *config.FieldError
	switch {
	case errors.As(err, &mb), errors.As(err, &fe):
		return err
	case errors.As(err, &te):
		return badRequest(te.Field, "%s must be a JSON %s, not %s", te.Field, te.Type.Kind(), te.Value)
	case errors.As(err, &se):
		return badRequest("", "the body is not valid JSON: %v", err)
	case errors.Is(err, io.EOF):
		return badRequest("", "the body is empty: send a JSON object")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return badRequest(f, "unknown field %q", f)
	}
	return badRequest("", "the body is not valid: %v", err)
}
