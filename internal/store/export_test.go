package store

import (
	"context"
	"testing"
)

// FailDeletesForTest makes every DELETE on table fail with "injected
// failure", in the store's own SQL dialect, until the returned func undoes
// it. For the external tests of this package.
func FailDeletesForTest(t *testing.T, s *Store, table string) func() {
	t.Helper()
	ctx := context.Background()
	create := []string{`CREATE TRIGGER fail_delete BEFORE DELETE ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'injected failure'); END`}
	drop := []string{`DROP TRIGGER fail_delete`}
	if s.d == postgresDialect {
		create = []string{
			`CREATE FUNCTION fail_injected() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
			`CREATE TRIGGER fail_delete BEFORE DELETE ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION fail_injected()`,
		}
		drop = []string{`DROP TRIGGER fail_delete ON ` + table, `DROP FUNCTION fail_injected()`}
	}
	for _, q := range create {
		if _, err := s.w.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		t.Helper()
		for _, q := range drop {
			if _, err := s.w.DB.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
}
