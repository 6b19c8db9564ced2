package service

import (
	"errors"
	"fmt"
	"strings"

	"forewarn/internal/config"
	"forewarn/internal/store"
)

// FieldError is one invalid input: the field it came in (as the API and
// the forms name it) and what is wrong with it, for a person.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// ValidationError is an operation's refusal of its input. Every edge
// renders it: the API as 400 naming the first field, the UI next to each
// field, the command line as a usage error.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return strings.Join(msgs, "; ")
}

// Field is the first invalid field's name.
func (e *ValidationError) Field() string {
	if len(e.Fields) == 0 {
		return ""
	}
	return e.Fields[0].Field
}

// Msg returns the message for field, and whether there is one.
func (e *ValidationError) Msg(field string) (string, bool) {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Msg, true
		}
	}
	return "", false
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Fields: []FieldError{{field, fmt.Sprintf(format, args...)}}}
}

// fromConfig turns the configuration's field error into a ValidationError.
func fromConfig(err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return &ValidationError{Fields: []FieldError{{fe.Field, fe.Msg}}}
	}
	return err
}

// conflictError is a refusal because of the state things are in; it wraps
// store.ErrConflict so that every edge renders it as a conflict.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }
func (e *conflictError) Unwrap() error { return store.ErrConflict }

func conflict(format string, args ...any) error {
	return &conflictError{fmt.Sprintf(format, args...)}
}

// UnknownFeedError is an operation on a feed this forewarn does not know.
// It wraps store.ErrNotFound.
type UnknownFeedError struct {
	Name  string
	Feeds []string
}

func (e *UnknownFeedError) Error() string {
	return fmt.Sprintf("no feed %q: the feeds are %v", e.Name, e.Feeds)
}
func (e *UnknownFeedError) Unwrap() error { return store.ErrNotFound }
