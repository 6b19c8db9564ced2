package feed

import (
	"forewarn/internal/activity"
	"forewarn/internal/merge"
	"forewarn/internal/prediction"
)

// The run record is the activity log's own type: these map the pipeline's
// structs onto it field by field, so that a field added to the merge
// engine's counts or the parser's problems reaches the stored and served
// record only when it is mapped here on purpose.

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

// runProblem is a parser's problem as the run record keeps it.
func runProblem(p prediction.Problem) activity.Problem {
	kind := activity.ProblemWarning
	if p.Kind == prediction.KindInvalid {
		kind = activity.ProblemInvalid
	}
	return activity.Problem{Line: p.Line, Kind: kind, Message: p.Message}
}
