package export

import (
	"context"
	"io"
	"time"

	"forewarn/internal/jsonenc"
)

// CrowdSecOrigin is the origin forewarn gives its CrowdSec decisions.
// (cscli 1.4 records every imported decision as origin "cscli-import"
// whatever the file says; later versions keep it.)
const CrowdSecOrigin = "forewarn"

// CrowdSecNoExpiry is the duration of a decision for an indicator that
// never expires (age_out never): a year, renewed by every later import.
const CrowdSecNoExpiry = 365 * 24 * time.Hour

// writeCrowdSec writes a JSON array of ban decisions, one per address,
// whose duration is the indicator's remaining lifetime: a decision ends
// when forewarn would expire the indicator, so removals reach CrowdSec
// without a delete.
func writeCrowdSec(ctx context.Context, w io.Writer, src Source, o Options) error {
	at := o.now()
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	var line []byte
	first := true
	err := eachBrief(ctx, src, CrowdSec, o, func(b *brief) error {
		line = line[:0]
		if !first {
			line = append(line, ',')
		}
		first = false
		line = appendCrowdSec(append(line, '\n'), b, at)
		_, err := w.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}

// appendCrowdSec appends b's decision at at to dst, as encoding/json
// encodes its crowdsecDecision (HTML not escaped; TestCrowdSecIsEncodingJSON):
// by hand, as reflection was a third of a 1M render's encoding.
func appendCrowdSec(dst []byte, b *brief, at time.Time) []byte {
	d := CrowdSecNoExpiry
	if !b.expiresAt.IsZero() {
		// Whole seconds, rounded up: a decision never ends before the
		// indicator does. each() already left out expiries at or before at.
		d = b.expiresAt.Sub(at)
		if r := d % time.Second; r != 0 {
			d += time.Second - r
		}
	}
	dst = append(dst, `{"value":"`...)
	dst = b.appendValue(dst) // an address or a CIDR: nothing to escape
	dst = append(dst, `","scope":"`...)
	dst = append(dst, crowdsecScope(b)...)
	dst = append(dst, `","type":"ban","duration":"`...)
	dst = append(dst, d.String()...)
	dst = append(dst, `","reason":`...)
	dst = appendReason(dst, b)
	dst = append(dst, `,"origin":`...)
	dst = jsonenc.AppendString(dst, CrowdSecOrigin)
	return append(dst, '}')
}

// appendReason appends crowdsecReason(b) as a JSON string, without the
// string: escaped in parts, which is the same (": " between them ends any
// invalid UTF-8 sequence of the first).
func appendReason(dst []byte, b *brief) []byte {
	if b.sources == "" {
		dst = jsonenc.AppendString(dst, "forewarn")
	} else {
		dst = jsonenc.AppendString(dst, b.sources)
	}
	if b.categories == "" {
		return dst
	}
	dst = append(dst[:len(dst)-1], ": "...) // the quote ending the first part
	n := len(dst)
	dst = jsonenc.AppendString(dst, b.categories)
	return append(dst[:n], dst[n+1:]...) // without the quote starting the second
}

// crowdsecReason is the feed and the detected categories:
// "Seclytics: botnet,malware".
func crowdsecReason(b *brief) string {
	reason := b.sources
	if reason == "" {
		reason = "forewarn"
	}
	if b.categories != "" {
		reason += ": " + b.categories
	}
	return reason
}

// crowdsecScope is a decision's scope: Ip for an address, Range for a
// network (CrowdSec bans every address of a Range decision's CIDR).
func crowdsecScope(b *brief) string {
	if b.network.IsValid() {
		return "Range"
	}
	return "Ip"
}
