package store

import "testing"

// TestRebind: only the placeholders of a query become $n on PostgreSQL; a
// ? in a string literal, a quoted identifier or a comment is text and is
// left alone, and numbering continues after it. SQLite gets the query as
// written.
func TestRebind(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", `SELECT a FROM t WHERE a = ? AND b = ?`, `SELECT a FROM t WHERE a = $1 AND b = $2`},
		{"none", `SELECT 1`, `SELECT 1`},
		{"string literal", `SELECT '?' WHERE a = ?`, `SELECT '?' WHERE a = $1`},
		{"doubled quote in a literal", `SELECT 'it''s ?' WHERE a = ?`, `SELECT 'it''s ?' WHERE a = $1`},
		{"quoted identifier", `SELECT "a?b" FROM t WHERE c = ?`, `SELECT "a?b" FROM t WHERE c = $1`},
		{"line comment", "SELECT a -- who? why?\nFROM t WHERE a = ?", "SELECT a -- who? why?\nFROM t WHERE a = $1"},
		{"line comment with a quote", "SELECT a -- don't\nWHERE a = ? AND b = '?'", "SELECT a -- don't\nWHERE a = $1 AND b = '?'"},
		{"block comment", `SELECT /* a ? 'b */ a FROM t WHERE a = ?`, `SELECT /* a ? 'b */ a FROM t WHERE a = $1`},
		{"comment at the end", "SELECT ? -- and ?", "SELECT $1 -- and ?"},
		{"unterminated block comment", `SELECT ? /* ?`, `SELECT $1 /* ?`},
		{"nested block comment", `SELECT /* a /* b */ ? */ ?`, `SELECT /* a /* b */ ? */ $1`},
		{"unterminated literal", `SELECT ? '?`, `SELECT $1 '?`},
		{"minus is not a comment", `SELECT a - ? FROM t`, `SELECT a - $1 FROM t`},
		{"slash is not a comment", `SELECT a / ? FROM t`, `SELECT a / $1 FROM t`},
		{"ten and more", `VALUES (?,?,?,?,?,?,?,?,?,?,?)`, `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := postgresDialect.rebind(tc.in); got != tc.want {
				t.Errorf("postgres rebind(%q)\n = %q\nwant %q", tc.in, got, tc.want)
			}
			if got := sqliteDialect.rebind(tc.in); got != tc.in {
				t.Errorf("sqlite rebind(%q) = %q, want it unchanged", tc.in, got)
			}
		})
	}
}

// BenchmarkRebind measures rewriting a run's largest statement, the one
// rebind would otherwise cache.
func BenchmarkRebind(b *testing.B) {
	q := `SELECT ip FROM indicators WHERE ip IN (?` + repeatPlaceholders(BatchSize-1) + `) AND status = 'Active' -- why?`
	for b.Loop() {
		postgresDialect.rebind(q)
	}
}

func repeatPlaceholders(n int) string {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, ",?"...)
	}
	return string(b)
}
