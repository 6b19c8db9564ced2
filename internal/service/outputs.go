package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"forewarn/internal/apikey"
	"forewarn/internal/output"
	"forewarn/internal/store"
)

// Output is a stored output profile with its spec decoded.
type Output struct {
	store.Output
	Spec output.Spec
}

func decodeOutput(o store.Output) (Output, error) {
	spec, err := output.ParseSpec([]byte(o.Spec))
	if err != nil {
		return Output{}, fmt.Errorf("output %s: %w", o.Name, err)
	}
	return Output{Output: o, Spec: spec}, nil
}

// CreateOutput makes the output profile name with spec and a key of its
// own, and returns the key (the only time it is shown) with the profile.
// A name in use is an error wrapping store.ErrConflict; at most
// output.MaxOutputs profiles exist.
func (s *Service) CreateOutput(ctx context.Context, a Actor, name string, spec output.Spec) (string, Output, error) {
	var errName, errSpec error
	if err := output.CheckName(name); err != nil {
		errName = invalid("name", "%v", err)
	}
	if err := spec.Validate(); err != nil {
		var fe *output.FieldError
		if !errors.As(err, &fe) {
			return "", Output{}, err
		}
		errSpec = invalid(fe.Field, "%s", fe.Message)
	}
	if err := joinInvalid(errName, errSpec); err != nil {
		return "", Output{}, err
	}
	for _, f := range spec.Feeds {
		var unknown *UnknownFeedError
		if _, _, err := s.Definition(ctx, f); errors.As(err, &unknown) {
			return "", Output{}, invalid("feeds", "no feed %q: the feeds are %s (forewarn feed list)", f, strings.Join(unknown.Feeds, ", "))
		} else if err != nil {
			return "", Output{}, err
		}
	}
	all, err := s.d.Store.Outputs(ctx)
	if err != nil {
		return "", Output{}, err
	}
	if len(all) >= output.MaxOutputs {
		return "", Output{}, invalid("name", "there are %d outputs, the most a store holds: remove one first (forewarn output rm NAME)", len(all))
	}
	key, hash, prefix, err := apikey.GenerateOutput()
	if err != nil {
		return "", Output{}, err
	}
	o, err := s.d.Store.CreateOutput(ctx, store.Output{Name: name, Spec: spec.JSON(), KeyPrefix: prefix, CreatedBy: a.Name}, hash)
	if err != nil {
		return "", Output{}, err
	}
	s.record(ctx, a, "output.create", name, o.Spec)
	out, err := decodeOutput(o)
	return key, out, err
}

// Outputs lists every output profile, by name.
func (s *Service) Outputs(ctx context.Context) ([]Output, error) {
	all, err := s.d.Store.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Output, 0, len(all))
	for _, o := range all {
		d, err := decodeOutput(o)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Output returns the output profile name; an error wrapping
// store.ErrNotFound if there is none.
func (s *Service) Output(ctx context.Context, name string) (Output, error) {
	o, err := s.d.Store.OutputNamed(ctx, name)
	if err != nil {
		return Output{}, err
	}
	return decodeOutput(o)
}

// DeleteOutput removes the output profile name: its key stops working.
func (s *Service) DeleteOutput(ctx context.Context, a Actor, name string) error {
	if err := s.d.Store.DeleteOutput(ctx, name); err != nil {
		return err
	}
	s.record(ctx, a, "output.remove", name, "")
	return nil
}

// RotateOutputKey gives the output profile name a new key and returns it
// (the only time it is shown); the old key stops working at once.
func (s *Service) RotateOutputKey(ctx context.Context, a Actor, name string) (string, Output, error) {
	key, hash, prefix, err := apikey.GenerateOutput()
	if err != nil {
		return "", Output{}, err
	}
	o, err := s.d.Store.SetOutputKey(ctx, name, hash, prefix)
	if err != nil {
		return "", Output{}, err
	}
	s.record(ctx, a, "output.rotate-key", name, "prefix "+prefix)
	out, err := decodeOutput(o)
	return key, out, err
}
