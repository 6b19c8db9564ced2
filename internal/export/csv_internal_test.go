package export

import (
	"strings"
	"testing"
)

func TestCellSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@A1": "'@A1", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "spam": "spam", "1.2.3.4": "1.2.3.4", "2001:db8::1": "2001:db8::1", "a=b": "a=b",
	} {
		if got := string(appendCellSafe(nil, []byte(in))); got != want {
			t.Errorf("appendCellSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// cellSafe is how the csv writer defused formulas before it appended
// (appendCellSafe), for the reference TestCSVIsEncodingCSV compares with:
// "'" before a value starting with =, +, -, @, tab or CR.
func cellSafe(v string) string {
	if v != "" && strings.IndexByte("=+-@\t\r", v[0]) >= 0 {
		return "'" + v
	}
	return v
}
