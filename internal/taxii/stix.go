package taxii

import (
	"forewarn/internal/indicator"
	"forewarn/internal/stix"
)

// STIXMapper maps indicators with package stix. An object's date_added is
// its indicator's last change; the identities' is their fixed creation.
type STIXMapper struct{}

// Identities implements Mapper.
func (STIXMapper) Identities() []Object {
	return convert(stix.Identities(), nil)
}

// Objects implements Mapper.
func (STIXMapper) Objects(ind *indicator.Indicator) ([]Object, error) {
	return convert(stix.ForIndicator(ind), ind), nil
}

func convert(in []stix.Object, ind *indicator.Indicator) []Object {
	out := make([]Object, len(in))
	for i, o := range in {
		added := o.Modified
		if ind != nil {
			added = ind.UpdatedAt
		}
		out[i] = Object{ID: o.ID, Type: o.Type, Version: o.Modified, DateAdded: added, JSON: o.JSON}
	}
	return out
}
