package taxii

import (
	"net/netip"

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
	objs, err := stix.ForIndicator(ind)
	if err != nil {
		return nil, err
	}
	// A renewed indicator's earlier generations, revoked, after its three
	// objects: a consumer that polls for what changed since before the
	// revocation gets them with the new id (stix.Superseded).
	return convert(append(objs, stix.Superseded(ind)...), ind), nil
}

// Purged implements Mapper: a purged indicator's objects are dated at its
// purge (its tombstone's UpdatedAt).
func (STIXMapper) Purged(ind *indicator.Indicator) []Object {
	return convert(stix.Purged(ind), ind)
}

// IndicatorTypes implements Mapper.
func (STIXMapper) IndicatorTypes() []string {
	return []string{"indicator", "ipv4-addr", "ipv6-addr", "relationship"}
}

// ObjectID implements Mapper: the ids are UUIDv5s of the address (or of
// the network's CIDR) and, past 0, the indicator's generation, so
// computing one costs a hash, where mapping the indicator costs its JSON.
func (STIXMapper) ObjectID(typ string, p netip.Prefix, generation int64) string {
	addr := p.Addr()
	v := addr.String()
	if !p.IsSingleIP() {
		v = p.String()
	}
	switch typ {
	case "indicator":
		return stix.IndicatorID(v, generation)
	case "relationship":
		return stix.RelationshipID(v, generation)
	case "ipv4-addr":
		if addr.Is4() {
			return stix.ObservableID(typ, v)
		}
	case "ipv6-addr":
		if !addr.Is4() {
			return stix.ObservableID(typ, v)
		}
	}
	return ""
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
