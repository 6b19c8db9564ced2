package stix

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"

	"forewarn/internal/indicator"
)

// SpecVersion is the STIX version of every object written.
const SpecVersion = "2.1"

// TimeFormat is STIX's timestamp with the millisecond precision it
// requires for created and modified.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Object is one STIX object: what a TAXII server indexes it by, and its
// JSON (which MarshalJSON returns as is).
type Object struct {
	ID          string
	Type        string
	SpecVersion string
	// Modified is the object's version: its modified property, or for an
	// SCO (which has none) when forewarn first stored the address, which
	// never changes.
	Modified time.Time
	JSON     json.RawMessage
}

// MarshalJSON returns the object's JSON.
func (o Object) MarshalJSON() ([]byte, error) { return o.JSON, nil }

// namespace is forewarn's UUIDv5 namespace for the ids of SDOs, SROs and
// bundles. It must never change: consumers key objects by these ids.
var namespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://forewarn.invalid/stix/2.1"))

// scoNamespace is the namespace STIX 2.1 (section 2.9) prescribes for
// deterministic SCO ids.
var scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// identitiesCreated is when the two identities were first published; fixed
// so their objects never change.
var identitiesCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Identity ids.
var (
	SeclyticsIdentityID = "identity--" + uuid.NewSHA1(namespace, []byte("identity:Seclytics")).String()
	ForewarnIdentityID  = "identity--" + uuid.NewSHA1(namespace, []byte("identity:forewarn")).String()
)

type identity struct {
	Type          string `json:"type"`
	SpecVersion   string `json:"spec_version"`
	ID            string `json:"id"`
	Created       string `json:"created"`
	Modified      string `json:"modified"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	IdentityClass string `json:"identity_class"`
}

// Identities returns the identities the other objects refer to: Seclytics,
// which predicted the indicators, and forewarn, which related them to their
// observables.
func Identities() []Object {
	ts := identitiesCreated.Format(TimeFormat)
	return []Object{
		mustObject(SeclyticsIdentityID, "identity", identitiesCreated, identity{
			Type: "identity", SpecVersion: SpecVersion, ID: SeclyticsIdentityID, Created: ts, Modified: ts,
			Name: "Seclytics", Description: "Seclytics Predictions: IP addresses predicted to turn malicious.",
			IdentityClass: "organization",
		}),
		mustObject(ForewarnIdentityID, "identity", identitiesCreated, identity{
			Type: "identity", SpecVersion: SpecVersion, ID: ForewarnIdentityID, Created: ts, Modified: ts,
			Name: "forewarn", Description: "forewarn: ingests Seclytics Predictions and exports them.",
			IdentityClass: "system",
		}),
	}
}

type sdoIndicator struct {
	Type           string   `json:"type"`
	SpecVersion    string   `json:"spec_version"`
	ID             string   `json:"id"`
	Created        string   `json:"created"`
	Modified       string   `json:"modified"`
	CreatedByRef   string   `json:"created_by_ref"`
	Revoked        bool     `json:"revoked,omitempty"`
	Name           string   `json:"name"`
	IndicatorTypes []string `json:"indicator_types"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	PatternVersion string   `json:"pattern_version"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until,omitempty"`
	Confidence     *int     `json:"confidence,omitempty"`
	Labels         []string `json:"labels,omitempty"`
	XNetblock      string   `json:"x_seclytics_predicted_netblock,omitempty"`
	XCluster       string   `json:"x_seclytics_cluster,omitempty"`
	XDetectedBy    []string `json:"x_seclytics_detected_by,omitempty"`
	XStatus        string   `json:"x_forewarn_status"`
}

type sco struct {
	Type        string `json:"type"`
	SpecVersion string `json:"spec_version"`
	ID          string `json:"id"`
	Value       string `json:"value"`
}

type relationship struct {
	Type             string `json:"type"`
	SpecVersion      string `json:"spec_version"`
	ID               string `json:"id"`
	Created          string `json:"created"`
	Modified         string `json:"modified"`
	CreatedByRef     string `json:"created_by_ref"`
	RelationshipType string `json:"relationship_type"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

// Revoked reports whether an indicator of status st is published with
// revoked: true: it expired, or a person or the allow-list whitelisted it.
// Its modified is then when that happened (the store moves updated_at on
// every status change), so a consumer polling for changes learns of the
// removal. Review is not revoked: a person has not decided yet.
func Revoked(st indicator.Status) bool {
	return st == indicator.StatusExpired || st == indicator.StatusWhitelisted
}

// IndicatorID is the id of the indicator SDO for an address (as
// netip.Addr.String writes it, or a network's CIDR) in its generation
// (indicator.Indicator.Generation). Generation 0 is the UUIDv5 of the
// address alone, as it was before generations; a later one adds
// "#<generation>", which no address or CIDR contains: an indicator
// brought back after it was revoked is a new object, since STIX 2.1
// forbids un-revoking one, and its revoked ids stay revoked.
func IndicatorID(value string, generation int64) string {
	return "indicator--" + uuid.NewSHA1(namespace, idName(nil, "indicator:", value, generation)).String()
}

// RelationshipID is the id of the based-on relationship from an address's
// indicator of the generation to its observable: a new indicator id is a
// new relationship, whose source_ref cannot change.
func RelationshipID(value string, generation int64) string {
	return "relationship--" + uuid.NewSHA1(namespace, idName(nil, "based-on:", value, generation)).String()
}

// idName appends the UUIDv5 name of an object of an address's generation
// to dst.
func idName[V string | []byte](dst []byte, prefix string, value V, generation int64) []byte {
	dst = append(append(dst, prefix...), value...)
	if generation != 0 {
		dst = strconv.AppendInt(append(dst, '#'), generation, 10)
	}
	return dst
}

// ObservableID is the id of the ipv4-addr or ipv6-addr SCO for an address:
// STIX's deterministic id, a UUIDv5 of {"value":"…"} in its namespace.
func ObservableID(scoType, value string) string {
	b, _ := json.Marshal(struct {
		Value string `json:"value"`
	}{value})
	return scoType + "--" + uuid.NewSHA1(scoNamespace, b).String()
}

// ForIndicator returns the objects for one indicator: the indicator SDO,
// its ipv4-addr or ipv6-addr SCO and the based-on relationship between
// them. An indicator without an address, or with an attribute of another
// kind than the mapping reads, is an error wrapping indicator.ErrNoAddress
// or indicator.ErrWrongKind: a bundle never silently lacks a date or a
// confidence it should carry.
func ForIndicator(ind *indicator.Indicator) ([]Object, error) {
	if !ind.Addr.IsValid() {
		return nil, fmt.Errorf("stix: map an indicator (status %s): %w", ind.Status, indicator.ErrNoAddress)
	}
	// A network (a list feed's CIDR entry) is its CIDR: STIX 2.1's
	// ipv4-addr and ipv6-addr values may be one.
	value := ind.Value()
	scoType, created, modified := basics(ind)
	sdo := sdoIndicator{
		Type: "indicator", SpecVersion: SpecVersion, ID: IndicatorID(value, ind.Generation),
		Created: created.Format(TimeFormat), Modified: modified.Format(TimeFormat),
		CreatedByRef: SeclyticsIdentityID, Name: value,
		IndicatorTypes: []string{"malicious-activity"},
		Pattern:        "[" + scoType + ":value = '" + value + "']",
		PatternType:    "stix", PatternVersion: SpecVersion,
		XStatus: string(ind.Status), Revoked: Revoked(ind.Status),
	}
	validFrom, err := fromAttributes(ind, &sdo, created)
	if err != nil {
		return nil, fmt.Errorf("stix: map an indicator: %w", err)
	}
	sdo.ValidFrom = validFrom.UTC().Format(TimeFormat)
	// STIX requires valid_until after valid_from; an expiry that is not
	// (a clock far off) is left out rather than make the object invalid.
	if ind.ExpiresAt != nil && ind.ExpiresAt.After(validFrom) {
		sdo.ValidUntil = ind.ExpiresAt.UTC().Format(TimeFormat)
	}
	obs := sco{Type: scoType, SpecVersion: SpecVersion, ID: ObservableID(scoType, value), Value: value}
	ts := created.Format(TimeFormat)
	rel := relationship{
		Type: "relationship", SpecVersion: SpecVersion,
		ID:      RelationshipID(value, ind.Generation),
		Created: ts, Modified: ts, CreatedByRef: ForewarnIdentityID,
		RelationshipType: "based-on", SourceRef: sdo.ID, TargetRef: obs.ID,
	}
	return []Object{
		mustObject(sdo.ID, sdo.Type, modified, sdo),
		mustObject(obs.ID, obs.Type, created, obs),
		mustObject(rel.ID, rel.Type, created, rel),
	}, nil
}

// MaxSuperseded bounds how many of a renewed indicator's earlier
// generations Superseded publishes: the latest ones. A consumer that
// missed every poll through more than this many revocations and
// re-activations keeps the older ids as live.
const MaxSuperseded = 16

// sdoSuperseded is the revoked version of an earlier generation's
// indicator SDO: only what the address and the renewal fix, so that it is
// the same bytes on every poll whatever the indicator's attributes do
// since.
type sdoSuperseded struct {
	Type           string   `json:"type"`
	SpecVersion    string   `json:"spec_version"`
	ID             string   `json:"id"`
	Created        string   `json:"created"`
	Modified       string   `json:"modified"`
	CreatedByRef   string   `json:"created_by_ref"`
	Revoked        bool     `json:"revoked"`
	Name           string   `json:"name"`
	IndicatorTypes []string `json:"indicator_types"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	PatternVersion string   `json:"pattern_version"`
	ValidFrom      string   `json:"valid_from"`
	// SupersededBy is the id of the generation that replaced it; empty
	// for a purged indicator's last generation (Purged).
	SupersededBy string `json:"x_forewarn_superseded_by_ref,omitempty"`
}

// Superseded returns, for an indicator brought back after a revocation
// (Generation n > 0), the indicator SDOs of its earlier generations (the
// MaxSuperseded latest, oldest first) as revoked versions whose modified
// is its RenewedAt: a consumer that did not poll while it was revoked
// learns with the new id that the old one is revoked, where otherwise the
// old id would simply stop being published and stay live in its copy.
// Each is the same bytes until the next renewal. Relationships are not
// revoked (ForIndicator never revokes one), so none is returned. Nil at
// generation 0.
func Superseded(ind *indicator.Indicator) []Object {
	if ind.Generation <= 0 || !ind.Addr.IsValid() {
		return nil
	}
	value := ind.Value()
	scoType, created, _ := basics(ind)
	modified := ind.RenewedAt.UTC()
	if modified.Before(created) {
		modified = created // a renewal time not stored (zero) or a clock far off
	}
	ts := created.Format(TimeFormat)
	current := IndicatorID(value, ind.Generation)
	out := make([]Object, 0, min(ind.Generation, MaxSuperseded))
	for g := max(0, ind.Generation-MaxSuperseded); g < ind.Generation; g++ {
		sdo := sdoSuperseded{
			Type: "indicator", SpecVersion: SpecVersion, ID: IndicatorID(value, g),
			Created: ts, Modified: modified.Format(TimeFormat), CreatedByRef: SeclyticsIdentityID,
			Revoked: true, Name: value, IndicatorTypes: []string{"malicious-activity"},
			Pattern:     "[" + scoType + ":value = '" + value + "']",
			PatternType: "stix", PatternVersion: SpecVersion, ValidFrom: ts,
			SupersededBy: current,
		}
		out = append(out, mustObject(sdo.ID, sdo.Type, modified, sdo))
	}
	return out
}

// Purged returns the objects of an indicator a purge deleted, read from
// its tombstone (an indicator.Indicator holding only its address or
// network, Generation, CreatedAt, RenewedAt and UpdatedAt, the purge
// time): the indicator SDO of its generation as a revoked version
// modified at the purge, built as Superseded builds its copies but
// superseded by nothing, followed by what Superseded returns for it (its
// earlier generations' revoked versions, the same bytes as while it was
// stored). A consumer polling for what changed since before the purge
// learns that the id it holds is revoked. Nil without an address.
func Purged(ind *indicator.Indicator) []Object {
	if !ind.Addr.IsValid() {
		return nil
	}
	value := ind.Value()
	scoType, created, modified := basics(ind)
	ts := created.Format(TimeFormat)
	sdo := sdoSuperseded{
		Type: "indicator", SpecVersion: SpecVersion, ID: IndicatorID(value, ind.Generation),
		Created: ts, Modified: modified.Format(TimeFormat), CreatedByRef: SeclyticsIdentityID,
		Revoked: true, Name: value, IndicatorTypes: []string{"malicious-activity"},
		Pattern:     "[" + scoType + ":value = '" + value + "']",
		PatternType: "stix", PatternVersion: SpecVersion, ValidFrom: ts,
	}
	return append([]Object{mustObject(sdo.ID, sdo.Type, modified, sdo)}, Superseded(ind)...)
}

// basics returns what every mapping of ind starts from: its SCO type
// (ipv4-addr or ipv6-addr) and its SDO's created and modified times in
// UTC, modified never before created.
func basics(ind *indicator.Indicator) (scoType string, created, modified time.Time) {
	scoType = "ipv4-addr"
	if !ind.Addr.Unmap().Is4() {
		scoType = "ipv6-addr"
	}
	created = ind.CreatedAt.UTC()
	modified = ind.UpdatedAt.UTC()
	if modified.Before(created) {
		modified = created
	}
	return scoType, created, modified
}

// fromAttributes sets the SDO's fields that come from ind's attributes
// and returns its valid_from: Predicted At, else Detected At, else
// created.
func fromAttributes(ind *indicator.Indicator, sdo *sdoIndicator, created time.Time) (validFrom time.Time, err error) {
	pa, err1 := ind.Want(indicator.AttrPredictedAt, indicator.KindDate)
	da, err2 := ind.Want(indicator.AttrDetectedAt, indicator.KindDate)
	imp, err3 := ind.Want(indicator.AttrImportance, indicator.KindNumber)
	nb, err4 := ind.Want(indicator.AttrPredictedNetblock, indicator.KindCIDR)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return time.Time{}, err
	}
	if v, ok := imp.AsNumber(); ok && !math.IsNaN(v) {
		c := int(math.Round(min(max(v, 0), 100)))
		sdo.Confidence = &c
	}
	if p, ok := nb.AsPrefix(); ok {
		sdo.XNetblock = p.String()
	}
	for _, a := range ind.Attributes {
		switch a.Name {
		case indicator.AttrDetectedCategories:
			a.Value.Texts(func(v string) { sdo.Labels = append(sdo.Labels, v) })
		case indicator.AttrCluster:
			sdo.XCluster = a.Value.String()
		case indicator.AttrDetectedBy:
			a.Value.Texts(func(v string) { sdo.XDetectedBy = append(sdo.XDetectedBy, v) })
		}
	}
	// valid_from: the prediction, else the detection, else created.
	if t, ok := pa.AsTime(); ok && !t.IsZero() {
		return t, nil
	}
	if t, ok := da.AsTime(); ok && !t.IsZero() {
		return t, nil
	}
	return created, nil
}

// mustObject encodes v, a struct of this package whose encoding cannot
// fail, and indexes it by id, type and version.
func mustObject(id, typ string, version time.Time, v any) Object {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("stix: encode %s: %v", typ, err))
	}
	return Object{ID: id, Type: typ, SpecVersion: SpecVersion, Modified: version, JSON: b}
}

// WriteBundle writes a STIX 2.1 bundle of Identities and the objects of
// every indicator each yields, streaming: it holds one indicator's objects
// at a time. The bundle's id is derived from its content (it is written
// last), so the same export gives the same bundle and any change a new one.
//
// purged, when not nil, yields the tombstones of purged indicators after
// them: each is written as Purged maps it.
func WriteBundle(ctx context.Context, w io.Writer, each, purged func(fn func(*indicator.Indicator) error) error) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	h := sha256.New()
	if _, err := bw.WriteString(`{"type":"bundle","objects":[`); err != nil {
		return err
	}
	first := true
	put := func(objs []Object) error {
		for _, o := range objs {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			bw.WriteByte('\n')
			h.Write(o.JSON)
			if _, err := bw.Write(o.JSON); err != nil {
				return err
			}
		}
		return nil
	}
	if err := put(Identities()); err != nil {
		return err
	}
	var a appender
	err := each(func(ind *indicator.Indicator) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.objects(ind); err != nil {
			return err
		}
		start := 0
		for _, end := range a.ends {
			bw.WriteString(",\n")
			h.Write(a.buf[start:end])
			if _, err := bw.Write(a.buf[start:end]); err != nil {
				return err
			}
			start = end
		}
		// The few renewed indicators: their earlier generations, revoked
		// (Superseded), after their three objects.
		return put(Superseded(ind))
	})
	if err != nil {
		return fmt.Errorf("stix bundle: %w", err)
	}
	if purged != nil {
		err = purged(func(ind *indicator.Indicator) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return put(Purged(ind))
		})
		if err != nil {
			return fmt.Errorf("stix bundle: purged indicators: %w", err)
		}
	}
	id := "bundle--" + uuid.NewSHA1(namespace, h.Sum(nil)).String()
	if _, err := bw.WriteString("\n],\"id\":\"" + id + "\"}\n"); err != nil {
		return err
	}
	return bw.Flush()
}
