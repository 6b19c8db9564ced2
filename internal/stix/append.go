package stix

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"forewarn/internal/indicator"
	"forewarn/internal/jsonenc"
)

// appender writes an indicator's three objects as ForIndicator's JSON,
// byte for byte, into one buffer reused from indicator to indicator:
// WriteBundle's path. ForIndicator stays the reference (and TAXII's
// path, which needs the objects one by one); TestAppendIsForIndicator
// holds the two to the same bytes.
type appender struct {
	buf   []byte
	value []byte // the indicator's value, reused
	name  []byte // a UUID's name, reused
	sdo   sdoIndicator
	// ends are the ends of the three objects in buf.
	ends [3]int
}

// appendUUID appends "prefix--" and the UUIDv5 (SHA-1) of name in space,
// as uuid.NewSHA1(space, name).String() writes it, without allocating.
func appendUUID(dst []byte, prefix string, space uuid.UUID, name []byte) []byte {
	h := sha1.New()
	h.Write(space[:])
	h.Write(name)
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var u uuid.UUID
	copy(u[:], sum[:])
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	dst = append(dst, prefix...)
	dst = append(dst, "--"...)
	var s [36]byte
	encodeHex(s[:], u)
	return append(dst, s[:]...)
}

// encodeHex writes u as uuid.UUID.String does.
func encodeHex(dst []byte, u uuid.UUID) {
	const hexDigits = "0123456789abcdef"
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hexDigits[b>>4], hexDigits[b&0xf]
		j += 2
	}
}

// appendTime appends t in TimeFormat, quoted.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = jsonenc.AppendTime(dst, t, TimeFormat)
	return append(dst, '"')
}

// objects writes ind's indicator SDO, observable SCO and based-on
// relationship into a.buf (replacing what it held), with a.ends their
// ends: ForIndicator's three objects' JSON. Its errors are ForIndicator's.
func (a *appender) objects(ind *indicator.Indicator) error {
	if !ind.Addr.IsValid() {
		return fmt.Errorf("stix: map an indicator (status %s): %w", ind.Status, indicator.ErrNoAddress)
	}
	if ind.Prefix.IsValid() {
		a.value = ind.Prefix.AppendTo(a.value[:0])
	} else {
		a.value = ind.Addr.AppendTo(a.value[:0])
	}
	value := a.value
	scoType, created, modified := basics(ind)
	// Only the fields from attributes; the lists reused.
	a.sdo = sdoIndicator{Labels: a.sdo.Labels[:0], XDetectedBy: a.sdo.XDetectedBy[:0]}
	sdo := &a.sdo
	validFrom, err := fromAttributes(ind, sdo, created)
	if err != nil {
		return fmt.Errorf("stix: map an indicator: %w", err)
	}

	b := a.buf[:0]
	// The SDO, as json.Marshal writes sdoIndicator.
	b = append(b, `{"type":"indicator","spec_version":"`+SpecVersion+`","id":`...)
	idStart := len(b)
	b = append(b, '"')
	b = appendUUID(b, "indicator", namespace, idName(a.name[:0], "indicator:", value, ind.Generation))
	b = append(b, '"')
	sdoID := len(b) // b[idStart:sdoID] is the SDO's id, quoted
	b = append(b, `,"created":`...)
	b = appendTime(b, created)
	b = append(b, `,"modified":`...)
	b = appendTime(b, modified)
	b = append(b, `,"created_by_ref":"`...)
	b = append(b, SeclyticsIdentityID...)
	b = append(b, '"')
	if Revoked(ind.Status) {
		b = append(b, `,"revoked":true`...)
	}
	b = append(b, `,"name":`...)
	b = jsonenc.AppendStringHTML(b, value)
	b = append(b, `,"indicator_types":["malicious-activity"],"pattern":`...)
	patStart := len(b)
	b = append(b, "["+scoType+":value = '"...)
	b = append(b, value...)
	b = append(b, "']"...)
	a.name = append(a.name[:0], b[patStart:]...)
	b = jsonenc.AppendStringHTML(b[:patStart], a.name) // escaped as json.Marshal would
	b = append(b, `,"pattern_type":"stix","pattern_version":"`+SpecVersion+`","valid_from":`...)
	b = appendTime(b, validFrom.UTC())
	// STIX requires valid_until after valid_from; an expiry that is not
	// (a clock far off) is left out rather than make the object invalid.
	if ind.ExpiresAt != nil && ind.ExpiresAt.After(validFrom) {
		b = append(b, `,"valid_until":`...)
		b = appendTime(b, ind.ExpiresAt.UTC())
	}
	if sdo.Confidence != nil {
		b = append(b, `,"confidence":`...)
		b = strconv.AppendInt(b, int64(*sdo.Confidence), 10)
	}
	if len(sdo.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b = jsonenc.AppendStrings(b, sdo.Labels, true)
	}
	if sdo.XNetblock != "" {
		b = append(b, `,"x_seclytics_predicted_netblock":`...)
		b = jsonenc.AppendStringHTML(b, sdo.XNetblock)
	}
	if sdo.XCluster != "" {
		b = append(b, `,"x_seclytics_cluster":`...)
		b = jsonenc.AppendStringHTML(b, sdo.XCluster)
	}
	if len(sdo.XDetectedBy) > 0 {
		b = append(b, `,"x_seclytics_detected_by":`...)
		b = jsonenc.AppendStrings(b, sdo.XDetectedBy, true)
	}
	b = append(b, `,"x_forewarn_status":`...)
	b = jsonenc.AppendStringHTML(b, string(ind.Status))
	b = append(b, '}')
	a.ends[0] = len(b)

	// The SCO: its id is STIX's, a UUIDv5 of {"value":"…"}.
	b = append(b, `{"type":"`+scoType+`","spec_version":"`+SpecVersion+`","id":`...)
	obsStart := len(b)
	a.name = jsonenc.AppendStringHTML(append(a.name[:0], `{"value":`...), value)
	a.name = append(a.name, '}')
	b = append(b, '"')
	b = appendUUID(b, scoType, scoNamespace, a.name)
	b = append(b, '"')
	obsEnd := len(b)
	b = append(b, `,"value":`...)
	b = jsonenc.AppendStringHTML(b, value)
	b = append(b, '}')
	a.ends[1] = len(b)

	// The relationship.
	b = append(b, `{"type":"relationship","spec_version":"`+SpecVersion+`","id":"`...)
	b = appendUUID(b, "relationship", namespace, idName(a.name[:0], "based-on:", value, ind.Generation))
	b = append(b, `","created":`...)
	b = appendTime(b, created)
	b = append(b, `,"modified":`...)
	b = appendTime(b, created)
	b = append(b, `,"created_by_ref":"`+ForewarnIdentityID+`","relationship_type":"based-on","source_ref":`...)
	b = append(b, b[idStart:sdoID]...)
	b = append(b, `,"target_ref":`...)
	b = append(b, b[obsStart:obsEnd]...)
	b = append(b, '}')
	a.ends[2] = len(b)
	a.buf = b
	return nil
}
