package dumpgen

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"

	"forewarn/internal/dump"
)

// Shape of the generated data. The values were tuned so that a CSV dump
// weighs about 170 bytes per row raw and compresses about as well as the
// real feed.
const (
	secondsPerDay = 86400

	// A run comes back later with probability repeatRunChance, and each of
	// its rows with repeatRowChance: their product is r/(1-r) for a repeat
	// share r of about 9%.
	repeatRunChance = 0.14
	repeatRowChance = 0.7
	// repeatMinDelay and repeatMaxDelay bound, in rows, how much later a
	// repeat comes back.
	repeatMinDelay = 64
	repeatMaxDelay = 40000
	// maxPending bounds the repeats waiting to be written, and with it the
	// generator's memory. At the rates above about 2,000 are pending.
	maxPending = 8192

	ipv6RunChance    = 0.02
	privateRunChance = 0.003
	clusterPoolSize  = 32
	clusterReuse     = 0.4
	decimalChance    = 0.006
	// perAddressChange is the probability that an address differs from
	// its run in a given detection value.
	perAddressChange = 0.15
)

// cluster is one prediction: a group of netblocks predicted together.
type cluster struct {
	hash        [40]byte
	predictedAt int64 // Unix seconds
	category    uint8
}

// row holds the values of one data row before formatting.
type row struct {
	addr        netip.Addr
	netblock    netip.Prefix
	predictedAt int64 // Unix seconds
	cluster     [40]byte
	category    uint8 // predicted_category
	by          [3]uint8
	nBy         uint8
	cats        [3]uint8
	nCats       uint8
	catTitle    uint8 // bit i set: cats[i] is written in mixed case
	ident       uint8 // index into identifiers
	detectedDay int64 // days since 1970-01-01
	lastSeenDay int64
	importance  int32 // tenths: 855 is 85.5
	bad         *badValue
}

// run is a block of consecutive addresses of one predicted netblock, which
// share the prediction and, mostly, their detection dates and importance.
type run struct {
	left        int
	next        netip.Addr
	netblock    netip.Prefix
	cl          cluster
	detectedDay int64
	lastSeenDay int64
	importance  int32
	by          [3]uint8
	nBy         uint8
	cats        [3]uint8
	nCats       uint8
	catTitle    uint8
	ident       uint8
	repeat      repeatPlan
}

// repeatPlan is how a run comes back later in the dump; due < 0 if it
// does not.
type repeatPlan struct {
	due         int
	lastSeenAdd int64
	importance  int32 // -1: unchanged
	cats        [3]uint8
	nCats       uint8 // 0: unchanged
	catTitle    uint8
}

type pendingRow struct {
	due int
	seq uint64
	r   row
}

type generator struct {
	src      *rand.PCG
	epoch    *rand.PCG // nil in epoch 0; separate so the main stream is unchanged
	format   Format
	rows     int
	invalid  float64
	lo, hi   int64 // predicted_at bounds, Unix seconds
	endDay   int64
	run      run
	clusters [clusterPoolSize]cluster
	nCluster int
	pending  []pendingRow // min-heap on due
	row      row
	badNext  int
	seq      uint64
	stats    Stats
}

func newGenerator(opts Options) *generator {
	seed := uint64(opts.Seed)
	g := &generator{
		src:     rand.NewPCG(seed, seed^0x9e3779b97f4a7c15),
		format:  opts.Format,
		rows:    opts.Rows,
		invalid: opts.InvalidRate,
		pending: make([]pendingRow, 0, maxPending),
	}
	if opts.Epoch != 0 {
		g.epoch = rand.NewPCG(seed^0x5851f42d4c957f2d, uint64(opts.Epoch))
	}
	start, end := opts.Start.Unix(), opts.End.Unix()
	g.endDay = floorDiv(end, secondsPerDay)
	// detected_at is at least the day after predicted_at, and no date may
	// pass End: keep predicted_at a day clear of End when the range allows.
	g.lo, g.hi = start, end-secondsPerDay
	if g.hi < g.lo {
		g.hi = g.lo
	}
	return g
}

// Random helpers on the PCG source directly: cheaper than going through
// rand.Rand's interface, and just as deterministic.

func (g *generator) intn(n int) int {
	hi, _ := bits.Mul64(g.src.Uint64(), uint64(n))
	return int(hi)
}

func (g *generator) float() float64 {
	return float64(g.src.Uint64()>>11) / (1 << 53)
}

func (g *generator) chance(p float64) bool {
	return g.float() < p
}

// exp returns an exponentially distributed value with the given mean.
func (g *generator) exp(mean float64) float64 {
	return -math.Log(1-g.float()) * mean
}

func (g *generator) clampDay(d int64) int64 {
	return min(d, g.endDay)
}

// appendRow appends data row i to b and reports whether the row belongs to
// dataset B.
func (g *generator) appendRow(b []byte, i int) ([]byte, bool) {
	r := &g.row
	repeat := len(g.pending) > 0 && g.pending[0].due <= i
	if repeat {
		*r = g.popPending()
	} else {
		g.nextFresh(r, i)
	}
	r.bad = nil
	if g.invalid > 0 && g.chance(g.invalid) {
		kind := badKinds[g.badNext%len(badKinds)]
		g.badNext++
		r.bad = &kind[g.intn(len(kind))]
		g.stats.Invalid++
	} else if repeat {
		g.stats.Repeats++
	} else {
		g.scheduleRepeat(r, i)
	}
	if g.epoch != nil && r.bad == nil && g.epoch.Uint64()%10 == 0 {
		g.redate(r)
	}
	if r.addr.Is6() && (r.bad == nil || r.bad.col != dump.IP) {
		g.stats.IPv6++
	}

	if g.format == NDJSON {
		b = appendJSON(b, r)
	} else {
		b = appendCSV(b, r)
	}
	g.stats.Rows++
	inB := r.importance >= 700
	if r.bad != nil {
		switch {
		case r.bad.shape != 0:
			inB = false
		case r.bad.col == dump.Importance:
			inB = r.bad.inB
		}
	}
	if inB {
		g.stats.RowsB++
	}
	return b, inB
}

// nextFresh fills r with the next address of the current run, starting a new
// run when the current one is exhausted.
func (g *generator) nextFresh(r *row, i int) {
	if g.run.left == 0 {
		g.newRun(i)
	}
	ru := &g.run
	ru.left--
	r.addr = ru.next
	ru.next = ru.next.Next()
	r.netblock = ru.netblock
	r.predictedAt = ru.cl.predictedAt
	r.cluster = ru.cl.hash
	r.category = ru.cl.category

	// Addresses of a run mostly share their detections, as in the real
	// feed; a minority differ in one value or another.
	r.by, r.nBy = ru.by, ru.nBy
	if g.chance(perAddressChange) {
		g.drawDetectors(&r.by, &r.nBy, r.category)
	}
	r.cats, r.nCats, r.catTitle = ru.cats, ru.nCats, ru.catTitle
	if g.chance(perAddressChange) {
		g.drawCategories(r)
	}
	r.ident = ru.ident
	if g.chance(perAddressChange) {
		r.ident = g.drawIdentifier(r.category)
	}
	r.detectedDay = ru.detectedDay
	r.lastSeenDay = ru.lastSeenDay
	if g.chance(perAddressChange) {
		r.detectedDay = g.clampDay(ru.detectedDay + int64(g.intn(30)))
		r.lastSeenDay = g.clampDay(max(r.detectedDay, ru.lastSeenDay) + int64(g.intn(60)))
	}
	r.importance = ru.importance
	if g.chance(perAddressChange) {
		r.importance = g.jitterImportance(ru.importance)
	}
}

// newRun picks the next predicted netblock and the addresses emitted from it.
func (g *generator) newRun(i int) {
	ru := &g.run
	if g.nCluster > 0 && g.chance(clusterReuse) {
		ru.cl = g.clusters[g.intn(g.nCluster)]
	} else {
		g.newCluster(&ru.cl)
		if g.nCluster < clusterPoolSize {
			g.clusters[g.nCluster] = ru.cl
			g.nCluster++
		} else {
			g.clusters[g.intn(clusterPoolSize)] = ru.cl
		}
	}

	// Mostly short runs, a few long ones: 1 to 64 addresses, about 14 on
	// average.
	u := g.float()
	n := 1 + int(64*u*u*u)
	ru.left = n
	if g.chance(ipv6RunChance) {
		g.newIPv6Block()
	} else {
		g.newIPv4Block(n)
	}

	predictedDay := floorDiv(ru.cl.predictedAt, secondsPerDay)
	ru.detectedDay = g.clampDay(predictedDay + 1 + int64(g.exp(150)))
	ru.lastSeenDay = ru.detectedDay
	if !g.chance(0.15) {
		ru.lastSeenDay = g.clampDay(ru.detectedDay + int64(g.exp(250)))
	}
	ru.importance = g.drawImportance()
	if ru.importance < 1000 && g.chance(decimalChance) {
		ru.importance += 5
	}
	g.drawDetectors(&ru.by, &ru.nBy, ru.cl.category)
	var r row
	r.category = ru.cl.category
	g.drawCategories(&r)
	ru.cats, ru.nCats, ru.catTitle = r.cats, r.nCats, r.catTitle
	ru.ident = g.drawIdentifier(r.category)
	g.planRepeat(i, n)
}

func (g *generator) drawIdentifier(category uint8) uint8 {
	if !g.chance(0.35) {
		return 0
	}
	ids := identifiersByCategory[category]
	return ids[g.intn(len(ids))]
}

func (g *generator) newCluster(c *cluster) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(c.hash); i += 16 {
		x := g.src.Uint64()
		for j := i; j < min(i+16, len(c.hash)); j++ {
			c.hash[j] = hexDigits[x&15]
			x >>= 4
		}
	}
	// More predictions in recent years: the density grows linearly.
	c.predictedAt = g.lo + int64(float64(g.hi-g.lo)*math.Sqrt(g.float()))
	c.category = categoryByPercent[g.intn(100)]
}

func (g *generator) newIPv4Block(n int) {
	var a, b, c byte
	if g.chance(privateRunChance) {
		switch g.intn(3) {
		case 0:
			a, b = 10, byte(g.intn(256))
		case 1:
			a, b = 172, byte(16+g.intn(16))
		default:
			a, b = 192, 168
		}
	} else {
		a, b = ipv4Firsts[g.intn(len(ipv4Firsts))], byte(g.intn(256))
	}
	c = byte(g.intn(256))
	first := 0
	if !g.chance(0.4) {
		first = g.intn(256 - n + 1)
	}
	g.run.netblock = netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, 0}), 24)
	g.run.next = netip.AddrFrom4([4]byte{a, b, c, byte(first)})
}

func (g *generator) newIPv6Block() {
	var p [16]byte
	start := ipv6Starts[g.intn(len(ipv6Starts))]
	x := g.src.Uint64()
	p[0], p[1] = byte(start>>8), byte(start)
	p[2], p[3], p[4], p[5] = byte(x>>56), byte(x>>48), byte(x>>40), byte(x>>32)
	bitsLen := 48
	if g.chance(0.3) {
		bitsLen = 64
		p[6], p[7] = byte(x>>24), byte(x>>16)
	}
	g.run.netblock = netip.PrefixFrom(netip.AddrFrom16(p), bitsLen)

	a := p
	if bitsLen == 48 && g.chance(0.5) {
		a[7] = byte(1 + g.intn(15)) // a small subnet number
	}
	// Hosts are numbered either from a small number (::1, ::2, ...) or
	// from a random interface identifier; a run never wraps the /64.
	var iid uint64
	if g.chance(0.6) {
		iid = uint64(1 + g.intn(4096))
	} else {
		iid = g.src.Uint64() &^ 0xff
	}
	for i := range 8 {
		a[8+i] = byte(iid >> (56 - 8*i))
	}
	g.run.next = netip.AddrFrom16(a)
}

// drawImportance returns a run's base importance, in tenths: about 12% of
// rows at 70 or above, 25% between 40 and 69, the rest below 40 and mostly
// low.
func (g *generator) drawImportance() int32 {
	u := g.float()
	var v int
	switch {
	case u < 0.12:
		w := g.float()
		v = 70 + int(31*w*w)
	case u < 0.37:
		v = 40 + g.intn(30)
	default:
		w := g.float()
		v = int(40 * w * w)
		if g.chance(0.3) {
			v = 10 // the most common score in the real feed
		}
	}
	return int32(v * 10)
}

// jitterImportance returns an address's importance near its run's base,
// occasionally with a decimal part.
func (g *generator) jitterImportance(base int32) int32 {
	v := min(max(base/10+int32(g.intn(11))-5, 0), 100)
	if v < 100 && g.chance(decimalChance) {
		return v*10 + 5
	}
	return v * 10
}

func (g *generator) drawDetectors(by *[3]uint8, n *uint8, category uint8) {
	list := detectorsByCategory[category]
	// The first detector of a category reports most of its IPs.
	if g.chance(0.5) {
		by[0] = list[0]
	} else {
		by[0] = list[g.intn(len(list))]
	}
	*n = 1
	if g.chance(0.15) {
		other := uint8(g.intn(len(detectors)))
		if g.chance(0.6) {
			other = list[g.intn(len(list))]
		}
		if other != by[0] {
			by[1] = other
			*n = 2
			if g.chance(0.25) {
				third := uint8(g.intn(len(detectors)))
				if third != by[0] && third != by[1] {
					by[2] = third
					*n = 3
				}
			}
		}
	}
}

func (g *generator) drawCategories(r *row) {
	r.cats[0] = r.category
	if g.chance(0.3) {
		r.cats[0] = uint8(g.intn(len(categories)))
	}
	r.nCats = 1
	if g.chance(0.12) {
		for r.nCats < 3 {
			c := uint8(g.intn(len(categories)))
			dup := false
			for _, have := range r.cats[:r.nCats] {
				dup = dup || have == c
			}
			if !dup {
				r.cats[r.nCats] = c
				r.nCats++
			}
			if !g.chance(0.3) {
				break
			}
		}
	}
	r.catTitle = 0
	if g.chance(0.02) {
		r.catTitle = 1 << g.intn(int(r.nCats))
	}
}

// planRepeat decides whether the run starting at row i comes back later in
// the dump as a whole, and how it will have changed by then: a newer
// last_seen_at and, sometimes, a new importance or new categories. A
// netblock seen again is written as a block, as the feed does.
func (g *generator) planRepeat(i, n int) {
	p := &g.run.repeat
	p.due = -1
	if !g.chance(repeatRunChance) {
		return
	}
	p.due = i + n + repeatMinDelay + g.intn(repeatMaxDelay-repeatMinDelay)
	if p.due >= g.rows {
		// Squeeze the delay into what is left rather than lose the
		// repeat, so that small dumps repeat at the same rate.
		left := g.rows - i - n
		if left < 1 {
			p.due = -1
			return
		}
		p.due = i + n + g.intn(left)
	}
	p.lastSeenAdd = 1 + int64(g.exp(90))
	p.importance = -1
	if g.chance(0.5) {
		p.importance = g.drawImportance()
	}
	p.nCats = 0
	if g.chance(0.25) {
		var r row
		r.category = g.run.cl.category
		g.drawCategories(&r)
		p.cats, p.nCats, p.catTitle = r.cats, r.nCats, r.catTitle
	}
}

// scheduleRepeat queues the later sighting of the fresh row r (row i) when
// its run is planned to come back, while the pending queue has room.
func (g *generator) scheduleRepeat(r *row, i int) {
	p := &g.run.repeat
	if p.due < 0 || !g.chance(repeatRowChance) || len(g.pending) == maxPending {
		return
	}
	later := pendingRow{due: max(p.due, i+1), seq: g.seq, r: *r}
	g.seq++
	later.r.lastSeenDay = g.clampDay(r.lastSeenDay + p.lastSeenAdd)
	if p.importance >= 0 {
		later.r.importance = p.importance
	}
	if p.nCats > 0 {
		later.r.cats, later.r.nCats, later.r.catTitle = p.cats, p.nCats, p.catTitle
	}
	g.pushPending(later)
}

// before orders pending rows: by due row, then in the order they were queued.
func (p *pendingRow) before(q *pendingRow) bool {
	return p.due < q.due || (p.due == q.due && p.seq < q.seq)
}

func (g *generator) pushPending(p pendingRow) {
	h := append(g.pending, p)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h[i].before(&h[parent]) {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
	g.pending = h
}

func (g *generator) popPending() row {
	h := g.pending
	top := h[0].r
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	g.pending = h
	return top
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// redate changes a row for a later epoch: seen again up to 30 days later
// (capped at End) with an importance moved by 1 to 30 points.
func (g *generator) redate(r *row) {
	x := g.epoch.Uint64()
	r.lastSeenDay = g.clampDay(r.lastSeenDay + 1 + int64(x%30))
	delta := int32(10 + (x>>8)%291) // tenths
	if r.importance+delta <= 1000 {
		r.importance += delta
	} else {
		r.importance -= delta
	}
}
