package export

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"
)

// CrowdSecOrigin is the origin forewarn gives its CrowdSec decisions.
// (cscli 1.4 records every imported decision as origin "cscli-import"
// whatever the file says; later versions keep it.)
const CrowdSecOrigin = "forewarn"

// CrowdSecNoExpiry is the duration of a decision for an indicator that
// never expires (age_out never): a year, renewed by every later import.
const CrowdSecNoExpiry = 365 * 24 * time.Hour

// crowdsecDecision is one element of the JSON array `cscli decisions
// import -i FILE.json` reads.
type crowdsecDecision struct {
	Value    string `json:"value"`
	Scope    string `json:"scope"`
	Type     string `json:"type"`
	Duration string `json:"duration"`
	Reason   string `json:"reason"`
	Origin   string `json:"origin"`
}

// writeCrowdSec writes a JSON array of ban decisions, one per address,
// whose duration is the indicator's remaining lifetime: a decision ends
// when forewarn would expire the indicator, so removals reach CrowdSec
// without a delete.
func writeCrowdSec(ctx context.Context, w io.Writer, src Source, o Options) error {
	at := o.now()
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	first := true
	err := eachBrief(ctx, src, CrowdSec, o, func(b *brief) error {
		buf.Reset()
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteByte('\n')
		d := CrowdSecNoExpiry
		if !b.expiresAt.IsZero() {
			// Whole seconds, rounded up: a decision never ends before the
			// indicator does. each() already left out expiries at or before at.
			d = b.expiresAt.Sub(at)
			if r := d % time.Second; r != 0 {
				d += time.Second - r
			}
		}
		if err := enc.Encode(crowdsecDecision{
			Value: b.value(), Scope: crowdsecScope(b), Type: "ban", Duration: d.String(),
			Reason: crowdsecReason(b), Origin: CrowdSecOrigin,
		}); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes()[:buf.Len()-1]) // without the encoder's newline
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
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
