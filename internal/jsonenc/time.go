package jsonenc

import "time"

// AppendTime appends t formatted with layout, as t.AppendFormat(dst,
// layout) writes it. The layouts the exports write times in (time.RFC3339
// and "2006-01-02T15:04:05Z", with ".000" or ".000000" seconds, or
// "2006-01-02T15:04:05.000000+00:00") are written by hand for a time in
// UTC with a year of four digits: AppendFormat reads its layout anew for
// each time, a fifth of a stix render's CPU. Anything else goes through
// AppendFormat.
func AppendTime(dst []byte, t time.Time, layout string) []byte {
	var frac int
	var zone string
	switch layout {
	case time.RFC3339, "2006-01-02T15:04:05Z":
		zone = "Z"
	case "2006-01-02T15:04:05.000Z":
		frac, zone = 3, "Z"
	case "2006-01-02T15:04:05.000000Z":
		frac, zone = 6, "Z"
	case "2006-01-02T15:04:05.000000+00:00":
		frac, zone = 6, "+00:00"
	default:
		return t.AppendFormat(dst, layout)
	}
	year, month, day := t.Date()
	if t.Location() != time.UTC || year < 0 || year > 9999 {
		return t.AppendFormat(dst, layout)
	}
	hour, min, sec := t.Clock()
	dst = appendDigits(dst, year, 4)
	dst = appendDigits(append(dst, '-'), int(month), 2)
	dst = appendDigits(append(dst, '-'), day, 2)
	dst = appendDigits(append(dst, 'T'), hour, 2)
	dst = appendDigits(append(dst, ':'), min, 2)
	dst = appendDigits(append(dst, ':'), sec, 2)
	if frac > 0 {
		ns := t.Nanosecond()
		for range 9 - frac {
			ns /= 10 // truncated, as AppendFormat does
		}
		dst = appendDigits(append(dst, '.'), ns, frac)
	}
	return append(dst, zone...)
}

// appendDigits appends v (0 or more) in n digits, zero-padded.
func appendDigits(dst []byte, v, n int) []byte {
	var b [9]byte
	for i := n - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:n]...)
}
