package loggen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
)

// Options describe a log.
type Options struct {
	// Lines is how many connection lines to write (headers aside).
	Lines int
	// HitRate is the share of lines, 0 to 1, whose external address is
	// taken from Hits.
	HitRate float64
	// Seed selects the log.
	Seed int64
	// Start is the time of the first line; lines are about 10 ms apart.
	Start time.Time
	// Hits are addresses the store lists; Others are addresses it does
	// not know (neither listed nor in a predicted netblock) nor
	// allow-lists. Both must be non-empty when they are needed.
	Hits, Others []netip.Addr
}

// Validate names the first bad option.
func (o Options) Validate() error {
	switch {
	case o.Lines < 0:
		return fmt.Errorf("lines is %d: want 0 or more", o.Lines)
	case !(o.HitRate >= 0 && o.HitRate <= 1):
		return fmt.Errorf("hit rate is %v: want a share from 0 to 1", o.HitRate)
	case o.HitRate > 0 && len(o.Hits) == 0:
		return errors.New("a hit rate above 0 needs addresses to hit: the store lists no Active indicator")
	case o.HitRate < 1 && len(o.Others) == 0:
		return errors.New("no addresses unknown to the store to fill the other lines with")
	}
	return nil
}

// Stats count what was written.
type Stats struct {
	Lines, Hits int
}

// fields is conn.log's columns, as Zeek's documentation shows them.
const header = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t%s\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"

// HeaderLines is how many lines precede the first connection.
const HeaderLines = 8

var services = []struct {
	port  int
	proto string
	svc   string
}{{443, "tcp", "ssl"}, {80, "tcp", "http"}, {53, "udp", "dns"}, {123, "udp", "-"}, {22, "tcp", "ssh"}, {25, "tcp", "smtp"}, {8080, "tcp", "http"}, {3389, "tcp", "-"}}

// Generate writes the log to w and, for every line that should hit, a
// line "LINE\tFIELD\tADDRESS" to hits (LINE counts the header lines, as a
// reader of the file does). Either writer's error ends it.
func Generate(ctx context.Context, w, hits io.Writer, o Options) (Stats, error) {
	var st Stats
	if err := o.Validate(); err != nil {
		return st, err
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), uint64(o.Seed)^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 256<<10)
	hw := bufio.NewWriterSize(hits, 64<<10)
	zipf := (*rand.Zipf)(nil)
	if len(o.Others) > 1 {
		zipf = rand.NewZipf(r, 1.1, 4, uint64(len(o.Others)-1))
	}
	fmt.Fprintf(bw, header, o.Start.UTC().Format("2006-01-02-15-04-05"))
	t := o.Start.UnixMicro()
	b := make([]byte, 0, 512)
	for i := 0; i < o.Lines; i++ {
		if i%65536 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		t += 1 + r.Int64N(20000) // about 10 ms apart
		internal := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
		var ext netip.Addr
		hit := o.HitRate > 0 && r.Float64() < o.HitRate
		if hit {
			ext = o.Hits[r.IntN(len(o.Hits))]
		} else if zipf != nil {
			ext = o.Others[zipf.Uint64()]
		} else {
			ext = o.Others[0]
		}
		s := services[r.IntN(len(services))]
		orig, resp, field := internal, ext, "id.resp_h"
		origPort, respPort := 1024+r.IntN(64511), s.port
		if r.IntN(5) == 0 { // inbound: the external address connects in
			orig, resp, field = ext, internal, "id.orig_h"
		}
		b = b[:0]
		b = strconv.AppendInt(b, t/1e6, 10)
		b = append(b, '.')
		b = appendPadded(b, t%1e6)
		b = append(b, "\tC"...)
		b = appendUID(b, r)
		b = append(b, '\t')
		b = orig.AppendTo(b)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(origPort), 10)
		b = append(b, '\t')
		b = resp.AppendTo(b)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(respPort), 10)
		b = append(b, '\t')
		b = append(b, s.proto...)
		b = append(b, '\t')
		b = append(b, s.svc...)
		ob, rb := r.IntN(5000), r.IntN(200000)
		b = fmt.Appendf(b, "\t%d.%06d\t%d\t%d\tSF\t%s\t%s\t0\tShADadFf\t%d\t%d\t%d\t%d\t(empty)\n",
			r.IntN(30), r.IntN(1e6), ob, rb, boolT(orig == internal), boolT(resp == internal),
			ob/500+3, ob+200, rb/1400+3, rb+200)
		if _, err := bw.Write(b); err != nil {
			return st, err
		}
		st.Lines++
		if hit {
			st.Hits++
			if _, err := fmt.Fprintf(hw, "%d\t%s\t%s\n", HeaderLines+i+1, field, ext); err != nil {
				return st, err
			}
		}
	}
	fmt.Fprintf(bw, "#close\t%s\n", time.UnixMicro(t).UTC().Format("2006-01-02-15-04-05"))
	if err := bw.Flush(); err != nil {
		return st, err
	}
	return st, hw.Flush()
}

func boolT(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

func appendPadded(b []byte, v int64) []byte {
	s := strconv.AppendInt(nil, v, 10)
	for i := len(s); i < 6; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

const uidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func appendUID(b []byte, r *rand.Rand) []byte {
	for range 17 {
		b = append(b, uidChars[r.IntN(len(uidChars))])
	}
	return b
}
