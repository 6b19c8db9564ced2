package feed

import (
	"forewarn/internal/activity"
	"forewarn/internal/merge"
)

// The run record is the activity log's own type: this maps the merge
// engine's counts onto it field by field, so that a count added there
// reaches the stored and served record only when it is mapped here on
// purpose.

// runCounts is a merge's counts as the run record keeps them.
func runCounts(c merge.Counts) activity.Counts {
	return activity.Counts{
		IndicatorsCreated:   c.IndicatorsCreated,
		IndicatorsUpdated:   c.IndicatorsUpdated,
		IndicatorsUnchanged: c.IndicatorsUnchanged,
		AttributesCreated:   c.AttributesCreated,
		AttributesUpdated:   c.AttributesUpdated,
		IndicatorsExpired:   c.IndicatorsExpired,
	}
}
