package store

import (
	"fmt"

	"forewarn/internal/indicator"
)

// CursorAfter returns the SearchIndicators cursor that continues a listing
// in sort order right after ind, for a reader that stops in the middle of a
// page (the TAXII server pages by objects, three per indicator). Sorts by
// value and by update time are supported.
func CursorAfter(ind *indicator.Indicator, sort string) (string, error) {
	so, ok := indicatorSorts[sort]
	if !ok || (so.key != "" && so.key != "updated_at") {
		return "", fmt.Errorf("CursorAfter: sort %q: %w", sort, ErrBadQuery)
	}
	if !ind.Addr.IsValid() {
		return "", fmt.Errorf("CursorAfter: %w", indicator.ErrNoAddress)
	}
	c := indicatorCursor{sort: so.code, ip: ind.Addr.As16()}
	if ind.Prefix.IsValid() {
		c.net = prefixKey(ind.Prefix)[16] + 1
	}
	if so.key == "updated_at" {
		c.key = uint64(ind.UpdatedAt.Unix())
	}
	return c.encode(), nil
}
