package export

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"forewarn/internal/indicator"
	"forewarn/internal/jsonenc"
	"forewarn/internal/store"
)

// The files of a MISP feed besides its events (<uuid>.json).
const (
	MISPManifest = "manifest.json"
	MISPHashes   = "hashes.csv"
)

// ErrNoMISPFile means a MISP feed has no file of the name asked for.
var ErrNoMISPFile = errors.New("no such file in the MISP feed")

// mispNamespace derives event and attribute UUIDs, so that the same feed
// and address always get the same ones and MISP updates them in place.
var mispNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://forewarn.invalid/misp-feed"))

// mispOrg is the organisation that creates forewarn's events.
var mispOrg = mispOrgc{Name: "forewarn", UUID: uuid.NewSHA1(mispNamespace, []byte("orgc:forewarn")).String()}

type mispOrgc struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

type mispTag struct {
	Name string `json:"name"`
}

type mispManifestEntry struct {
	Orgc          mispOrgc  `json:"Orgc"`
	Tag           []mispTag `json:"Tag"`
	Info          string    `json:"info"`
	Date          string    `json:"date"`
	Analysis      int       `json:"analysis"`
	ThreatLevelID int       `json:"threat_level_id"`
	Timestamp     int64     `json:"timestamp"`
}

// mispEvent is one event of the feed: the indicators of one source.
type mispEvent struct {
	source    string
	uuid      string
	created   time.Time // the source's first indicator: the event's date
	timestamp int64     // the latest change, removals included
}

func (e *mispEvent) info(o *Options) string {
	info := "forewarn: " + e.source + " indicators"
	if o.Name != "" {
		info += " (" + o.Name + ")"
	}
	return info
}

func (e *mispEvent) tags(o *Options) []mispTag {
	return []mispTag{{"tlp:" + o.tlp()}, {fmt.Sprintf("forewarn:feed=%q", e.source)}}
}

// MISPEventSource is a Source that knows its MISP events without reading
// every indicator (the store: through its indexes).
type MISPEventSource interface {
	SourceChanges(ctx context.Context, at time.Time) (store.SourceChanges, error)
}

// mispEvents finds the feed's events, one per source, and when each last
// changed, whatever the filter, budget and status: an indicator that
// expires or is whitelisted moves its updated time (the store sets it),
// and one whose expiry passed before the sweep counts at its expiry, so an
// event's timestamp moves whenever an attribute leaves it and MISP pulls
// it again.
//
// A MISPEventSource (the store) answers through indexes, never reading
// every indicator: every event gets the store's latest change as its
// timestamp (an over-approximation: a change to one source moves every
// event, so MISP may pull an event that did not change, never miss one
// that did), and its first run's date as its date. Another Source is read
// whole for the exact times.
func mispEvents(ctx context.Context, src Source, o *Options) ([]*mispEvent, error) {
	at := o.now()
	newEvent := func(s string, created time.Time) *mispEvent {
		return &mispEvent{source: s, uuid: uuid.NewSHA1(mispNamespace, []byte("event\x00"+o.Name+"\x00"+s)).String(), created: created}
	}
	if es, ok := src.(MISPEventSource); ok {
		sc, err := es.SourceChanges(ctx, at)
		if err != nil {
			return nil, fmt.Errorf("read the feed's events: %w", err)
		}
		sources := sc.Sources
		if len(sources) == 0 {
			sources = []string{"forewarn"}
		}
		events := make([]*mispEvent, 0, len(sources))
		for _, s := range sources {
			created, ok := sc.Created[s]
			if !ok {
				created = sc.Changed
			}
			e := newEvent(s, created)
			e.timestamp = sc.Changed.Unix()
			events = append(events, e)
		}
		return events, nil
	}
	bySource := map[string]*mispEvent{}
	err := src.EachIndicator(ctx, func(ind *indicator.Indicator) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		changed := ind.UpdatedAt
		if ind.ExpiresAt != nil && !ind.ExpiresAt.After(at) && ind.ExpiresAt.After(changed) {
			changed = *ind.ExpiresAt
		}
		for _, s := range sourcesOf(ind) {
			e := bySource[s]
			if e == nil {
				e = newEvent(s, ind.CreatedAt)
				bySource[s] = e
			}
			if ind.CreatedAt.Before(e.created) {
				e.created = ind.CreatedAt
			}
			e.timestamp = max(e.timestamp, changed.Unix())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the feed's events: %w", err)
	}
	events := make([]*mispEvent, 0, len(bySource))
	for _, e := range bySource {
		events = append(events, e)
	}
	slices.SortFunc(events, func(a, b *mispEvent) int { return strings.Compare(a.source, b.source) })
	return events, nil
}

func sourcesOf(ind *indicator.Indicator) []string {
	if len(ind.Sources) == 0 {
		return []string{"forewarn"}
	}
	return ind.Sources
}

// writeMISPManifest writes manifest.json: each event's UUID and summary.
func writeMISPManifest(w io.Writer, events []*mispEvent, o *Options) error {
	m := make(map[string]mispManifestEntry, len(events))
	for _, e := range events {
		m[e.uuid] = mispManifestEntry{
			Orgc: mispOrg, Tag: e.tags(o), Info: e.info(o), Date: e.created.UTC().Format(time.DateOnly),
			Analysis: 2, ThreatLevelID: 3, Timestamp: e.timestamp,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	return enc.Encode(m)
}

// writeMISPEventHead writes an event up to its attribute list; the
// attributes follow, then mispEventTail.
func writeMISPEventHead(w io.Writer, e *mispEvent, o *Options) error {
	type head struct {
		UUID             string    `json:"uuid"`
		Info             string    `json:"info"`
		Date             string    `json:"date"`
		Timestamp        string    `json:"timestamp"`
		PublishTimestamp string    `json:"publish_timestamp"`
		Published        bool      `json:"published"`
		Analysis         string    `json:"analysis"`
		ThreatLevelID    string    `json:"threat_level_id"`
		Orgc             mispOrgc  `json:"Orgc"`
		Tag              []mispTag `json:"Tag"`
	}
	ts := strconv.FormatInt(e.timestamp, 10)
	b, err := json.Marshal(head{
		UUID: e.uuid, Info: e.info(o), Date: e.created.UTC().Format(time.DateOnly), Timestamp: ts, PublishTimestamp: ts,
		Published: true, Analysis: "2", ThreatLevelID: "3", Orgc: mispOrg, Tag: e.tags(o),
	})
	if err != nil {
		return err
	}
	// {"Event":{...head fields...,"Attribute":[
	b = append([]byte(`{"Event":`), b[:len(b)-1]...)
	b = append(b, `,"Attribute":[`...)
	_, err = w.Write(b)
	return err
}

const mispEventTail = "\n]}}\n"

// mispRender streams the selected indicators into the feed: each one's
// attribute to the writer event returns for each of its sources (nil:
// that event is not wanted), and its hash line to hashes (if not nil).
//
// Each attribute is appended to one buffer reused from attribute to
// attribute, byte for byte as encoding/json wrote the struct it replaces
// (mispAttribute's fields in order, no HTML escaping, Tag left out when
// empty; TestRichFormatsAreEncodingJSON holds the two to the same bytes).
func mispRender(ctx context.Context, src Source, o Options, events []*mispEvent, event func(*mispEvent) io.Writer, hashes io.Writer) error {
	bySource := make(map[string]*mispEvent, len(events))
	firstAttr := make(map[*mispEvent]bool, len(events))
	spaces := make(map[*mispEvent]uuid.UUID, len(events))
	for _, e := range events {
		bySource[e.source] = e
		firstAttr[e] = true
		spaces[e] = uuid.MustParse(e.uuid)
	}
	typ := o.MISPAttribute
	if typ == "" {
		typ = "ip-dst"
	}
	// What every attribute has between its uuid and its value.
	typed := append(jsonenc.AppendString([]byte(`,"type":`), typ), `,"category":"Network activity","value":`...)
	var (
		buf, value, hashed, line []byte
		tags                     = map[string][]byte{} // a category's tag, as encoded
	)
	return each(ctx, src, MISPFeed, o, func(s *selected) error {
		if s.network.IsValid() {
			value = s.network.AppendTo(value[:0])
		} else {
			value = s.addr.AppendTo(value[:0])
		}
		sum := md5.Sum(value)
		first, last := seenRange(s)
		for _, source := range sourcesOf(s.ind) {
			e := bySource[source]
			if e == nil {
				// Stored after the events were read: the next render has it.
				continue
			}
			if w := event(e); w != nil {
				buf = buf[:0]
				if firstAttr[e] {
					buf, firstAttr[e] = append(buf, '\n'), false
				} else {
					buf = append(buf, ",\n"...)
				}
				// As uuid.NewSHA1(space, value), without its allocations.
				space := spaces[e]
				hashed = append(append(hashed[:0], space[:]...), value...)
				h := sha1.Sum(hashed)
				id := uuid.UUID(h[:16])
				id[6] = id[6]&0x0f | 0x50 // version 5
				id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
				buf = append(buf, `{"uuid":"`...)
				buf = appendUUID(buf, id)
				buf = append(buf, '"')
				buf = append(buf, typed...)
				buf = jsonenc.AppendString(buf, value)
				buf = append(buf, `,"to_ids":true,"distribution":"5","timestamp":"`...)
				buf = strconv.AppendInt(buf, s.ind.UpdatedAt.Unix(), 10)
				buf = append(buf, `","first_seen":"`...)
				buf = appendMISPTime(buf, first)
				buf = append(buf, `","last_seen":"`...)
				buf = appendMISPTime(buf, last)
				buf = append(buf, `","comment":`...)
				line = appendDescribe(line[:0], s)
				buf = jsonenc.AppendString(buf, line)
				n := 0
				for i := range s.ind.Attributes {
					a := &s.ind.Attributes[i]
					if a.Name != indicator.AttrDetectedCategories {
						continue
					}
					a.Value.Texts(func(c string) {
						if n == 0 {
							buf = append(buf, `,"Tag":[`...)
						} else {
							buf = append(buf, ',')
						}
						n++
						tag, ok := tags[c]
						if !ok {
							tag = append([]byte(`{"name":`), jsonenc.AppendString(nil, fmt.Sprintf("forewarn:category=%q", strings.ToLower(c)))...)
							tag = append(tag, '}')
							if len(tags) < 4096 { // categories are few; a store with many does not grow this
								tags[c] = tag
							}
						}
						buf = append(buf, tag...)
					})
				}
				if n > 0 {
					buf = append(buf, ']')
				}
				buf = append(buf, '}')
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			if hashes != nil {
				line = hex.AppendEncode(line[:0], sum[:])
				line = append(line, ',')
				line = append(line, e.uuid...)
				line = append(line, '\n')
				if _, err := hashes.Write(line); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// appendUUID appends id as uuid.UUID.String writes it.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	dst = hex.AppendEncode(dst, id[:4])
	dst = hex.AppendEncode(append(dst, '-'), id[4:6])
	dst = hex.AppendEncode(append(dst, '-'), id[6:8])
	dst = hex.AppendEncode(append(dst, '-'), id[8:10])
	return hex.AppendEncode(append(dst, '-'), id[10:])
}

func appendMISPTime(dst []byte, t time.Time) []byte {
	return jsonenc.AppendTime(dst, t.UTC(), "2006-01-02T15:04:05.000000+00:00")
}

// WriteMISPFile writes one file of the MISP feed of src: manifest.json,
// hashes.csv or an event's <uuid>.json (ErrNoMISPFile for another name).
// It returns how many indicators it wrote (0 for the manifest).
func WriteMISPFile(ctx context.Context, w io.Writer, src Source, o Options, name string) (int64, error) {
	if err := o.Validate(MISPFeed); err != nil {
		return 0, err
	}
	var n int64
	o.written = &n
	events, err := mispEvents(ctx, src, &o)
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", MISPFeed, err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	switch name {
	case MISPManifest:
		err = writeMISPManifest(bw, events, &o)
	case MISPHashes:
		err = mispRender(ctx, src, o, events, func(*mispEvent) io.Writer { return nil }, bw)
	default:
		i := slices.IndexFunc(events, func(e *mispEvent) bool { return e.uuid+".json" == name })
		if i < 0 {
			return 0, fmt.Errorf("%w: %q", ErrNoMISPFile, name)
		}
		e := events[i]
		if err = writeMISPEventHead(bw, e, &o); err == nil {
			err = mispRender(ctx, src, o, events, func(x *mispEvent) io.Writer {
				if x == e {
					return bw
				}
				return nil
			}, nil)
		}
		if err == nil {
			_, err = io.WriteString(bw, mispEventTail)
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("export %s %s: %w", MISPFeed, name, err)
	}
	return n, nil
}

// WriteMISPFeed writes the MISP feed of src into dir (created if
// missing): one <uuid>.json per event, hashes.csv, then manifest.json.
// Each file is written beside its target and renamed into place, the
// manifest last, so MISP never reads a manifest naming an event that is
// not there yet, nor half a file. It returns how many indicators it wrote.
func WriteMISPFeed(ctx context.Context, dir string, src Source, o Options) (int64, error) {
	if err := o.Validate(MISPFeed); err != nil {
		return 0, err
	}
	var n int64
	o.written = &n
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("export %s: %w", MISPFeed, err)
	}
	events, err := mispEvents(ctx, src, &o)
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", MISPFeed, err)
	}
	files := &tempFiles{dir: dir}
	defer files.cleanup()
	writers := make(map[*mispEvent]*bufio.Writer, len(events))
	for _, e := range events {
		w, err := files.create(e.uuid + ".json")
		if err != nil {
			return 0, err
		}
		if err := writeMISPEventHead(w, e, &o); err != nil {
			return 0, err
		}
		writers[e] = w
	}
	hashes, err := files.create(MISPHashes)
	if err != nil {
		return 0, err
	}
	if err := mispRender(ctx, src, o, events, func(e *mispEvent) io.Writer { return writers[e] }, hashes); err != nil {
		return n, fmt.Errorf("export %s: %w", MISPFeed, err)
	}
	for _, w := range writers {
		if _, err := io.WriteString(w, mispEventTail); err != nil {
			return n, err
		}
	}
	manifest, err := files.create(MISPManifest)
	if err != nil {
		return n, err
	}
	if err := writeMISPManifest(manifest, events, &o); err != nil {
		return n, err
	}
	if err := files.commit(); err != nil {
		return n, fmt.Errorf("export %s: %w", MISPFeed, err)
	}
	return n, nil
}

// tempFiles are files written beside their targets, renamed into place
// in the order they were created by commit, or removed by cleanup.
type tempFiles struct {
	dir   string
	files []*tempFile
}

type tempFile struct {
	f    *os.File
	w    *bufio.Writer
	name string
}

func (t *tempFiles) create(name string) (*bufio.Writer, error) {
	f, err := os.CreateTemp(t.dir, ".forewarn-misp-*")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", MISPFeed, err)
	}
	tf := &tempFile{f: f, w: bufio.NewWriterSize(f, 64<<10), name: name}
	t.files = append(t.files, tf)
	return tf.w, nil
}

func (t *tempFiles) commit() error {
	for _, tf := range t.files {
		if err := tf.w.Flush(); err != nil {
			return err
		}
		if err := tf.f.Chmod(0o644); err != nil {
			return err
		}
		if err := tf.f.Close(); err != nil {
			return err
		}
	}
	for _, tf := range t.files {
		if err := os.Rename(tf.f.Name(), filepath.Join(t.dir, tf.name)); err != nil {
			return err
		}
	}
	t.files = nil
	return nil
}

func (t *tempFiles) cleanup() {
	for _, tf := range t.files {
		tf.f.Close()
		os.Remove(tf.f.Name())
	}
}
