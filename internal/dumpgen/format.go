package dumpgen

import (
	"strconv"

	"forewarn/internal/dump"
)

// appendCSV appends r as one CSV line. No generated value holds a quote, and
// only a multi-valued detected_categories holds a comma, so that field alone
// is ever quoted.
func appendCSV(b []byte, r *row) []byte {
	bad := r.bad
	badCol := dump.Column(-1)
	if bad != nil {
		badCol = bad.col
	}
	field := func(b []byte, col dump.Column) ([]byte, bool) {
		if col > 0 {
			b = append(b, ',')
		}
		if col == badCol {
			return append(b, bad.text...), true
		}
		return b, false
	}
	var done bool
	if b, done = field(b, dump.IP); !done {
		b = r.addr.AppendTo(b)
	}
	if b, done = field(b, dump.PredictedAt); !done {
		b = appendTimestamp(b, r.predictedAt)
	}
	if b, done = field(b, dump.PredictedNetblock); !done {
		b = r.netblock.AppendTo(b)
	}
	if b, done = field(b, dump.PredictedCategory); !done {
		b = append(b, categories[r.category].name...)
	}
	if b, done = field(b, dump.Cluster); !done {
		b = append(b, r.cluster[:]...)
	}
	if b, done = field(b, dump.DetectedBy); !done {
		b = appendDetectors(b, r)
	}
	if b, done = field(b, dump.DetectedIdentifiers); !done {
		if bad != nil && bad.shape > 0 {
			// A value with an unquoted comma: one field too many.
			b = append(b, "ssh-bruteforce,port-22"...)
		} else {
			b = append(b, identifiers[r.ident]...)
		}
	}
	if b, done = field(b, dump.DetectedCategories); !done {
		if r.nCats > 1 {
			b = append(b, '"')
		}
		for i := range r.nCats {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCategory(b, r, i)
		}
		if r.nCats > 1 {
			b = append(b, '"')
		}
	}
	if b, done = field(b, dump.DetectedAt); !done {
		b = appendDay(b, r.detectedDay)
	}
	if b, done = field(b, dump.LastSeenAt); !done {
		b = appendDay(b, r.lastSeenDay)
	}
	if bad == nil || bad.shape >= 0 {
		if b, done = field(b, dump.Importance); !done {
			b = appendImportance(b, r.importance)
		}
	}
	return append(b, '\n')
}

// appendJSON appends r as one NDJSON line, with the same keys as the CSV
// header. Empty identifiers are written as [] or left out, as both occur in
// the wild; which one depends on the row's values only, so the CSV and NDJSON
// dumps of a seed hold the same rows.
func appendJSON(b []byte, r *row) []byte {
	start := len(b)
	bad := r.bad
	badCol := dump.Column(-1)
	if bad != nil {
		badCol = bad.col
	}
	key := func(b []byte, col dump.Column) ([]byte, bool) {
		if col > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, dump.ColumnNames[col]...)
		b = append(b, '"', ':')
		if col == badCol {
			return append(b, bad.json...), true
		}
		return b, false
	}
	b = append(b, '{')
	var done bool
	if b, done = key(b, dump.IP); !done {
		b = append(b, '"')
		b = r.addr.AppendTo(b)
		b = append(b, '"')
	}
	if b, done = key(b, dump.PredictedAt); !done {
		b = append(b, '"')
		b = appendTimestamp(b, r.predictedAt)
		b = append(b, '"')
	}
	if b, done = key(b, dump.PredictedNetblock); !done {
		b = append(b, '"')
		b = r.netblock.AppendTo(b)
		b = append(b, '"')
	}
	if b, done = key(b, dump.PredictedCategory); !done {
		b = append(b, '"')
		b = append(b, categories[r.category].name...)
		b = append(b, '"')
	}
	if b, done = key(b, dump.Cluster); !done {
		b = append(b, '"')
		b = append(b, r.cluster[:]...)
		b = append(b, '"')
	}
	if b, done = key(b, dump.DetectedBy); !done {
		b = append(b, '[')
		for i := range r.nBy {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, detectors[r.by[i]]...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if ident := identifiers[r.ident]; ident != "" || (r.detectedDay+int64(r.importance))&1 == 0 {
		if b, done = key(b, dump.DetectedIdentifiers); !done {
			b = append(b, '[')
			if ident != "" {
				b = append(b, '"')
				for i := 0; i < len(ident); i++ {
					if ident[i] == ';' {
						b = append(b, '"', ',', '"')
					} else {
						b = append(b, ident[i])
					}
				}
				b = append(b, '"')
			}
			b = append(b, ']')
		}
	}
	if b, done = key(b, dump.DetectedCategories); !done {
		b = append(b, '[')
		for i := range r.nCats {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = appendCategory(b, r, i)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if b, done = key(b, dump.DetectedAt); !done {
		b = append(b, '"')
		b = appendDay(b, r.detectedDay)
		b = append(b, '"')
	}
	if b, done = key(b, dump.LastSeenAt); !done {
		b = append(b, '"')
		b = appendDay(b, r.lastSeenDay)
		b = append(b, '"')
	}
	if b, done = key(b, dump.Importance); !done {
		b = appendImportance(b, r.importance)
	}
	b = append(b, '}')
	if bad != nil && bad.shape != 0 {
		// A record cut short, as a truncated upload leaves it.
		n := len(b) - start
		if bad.shape < 0 {
			b = b[:start+n/2]
		} else {
			b = b[:start+n*3/4]
		}
	}
	return append(b, '\n')
}

func appendDetectors(b []byte, r *row) []byte {
	for i := range r.nBy {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, detectors[r.by[i]]...)
	}
	return b
}

func appendCategory(b []byte, r *row, i uint8) []byte {
	c := &categories[r.cats[i]]
	if r.catTitle&(1<<i) != 0 {
		return append(b, c.title...)
	}
	return append(b, c.name...)
}

// appendImportance writes an importance held in tenths: "85" or "85.5".
func appendImportance(b []byte, tenths int32) []byte {
	b = strconv.AppendInt(b, int64(tenths/10), 10)
	if d := tenths % 10; d != 0 {
		b = append(b, '.', byte('0'+d))
	}
	return b
}

// appendTimestamp writes Unix seconds as 2018-06-21T02:03:48 (UTC).
func appendTimestamp(b []byte, unix int64) []byte {
	days := floorDiv(unix, secondsPerDay)
	s := int(unix - days*secondsPerDay)
	b = appendDate(b, days)
	b = append(b, 'T')
	b = append2(b, s/3600)
	b = append(b, ':')
	b = append2(b, s/60%60)
	b = append(b, ':')
	return append2(b, s%60)
}

// appendDay writes a day-granular date as 2021-02-09T00:00:00.
func appendDay(b []byte, days int64) []byte {
	b = appendDate(b, days)
	return append(b, "T00:00:00"...)
}

// appendDate writes days since 1970-01-01 as YYYY-MM-DD, using Howard
// Hinnant's civil_from_days to avoid time.Time on the hot path.
func appendDate(b []byte, days int64) []byte {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	b = append2(b, int(y/100))
	b = append2(b, int(y%100))
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	return append2(b, int(d))
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}
