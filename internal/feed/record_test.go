package feed

import (
	"reflect"
	"testing"

	"forewarn/internal/merge"
)

// TestRunRecordMapsEveryCount: every count the run record has is filled
// from the merge's count of the same name, so a count added to both is not
// silently left at zero by runCounts.
func TestRunRecordMapsEveryCount(t *testing.T) {
	var c merge.Counts
	cv := reflect.ValueOf(&c).Elem()
	for i := 0; i < cv.NumField(); i++ {
		cv.Field(i).SetInt(int64(i + 1))
	}
	got := reflect.ValueOf(runCounts(c))
	for i := 0; i < got.NumField(); i++ {
		name := got.Type().Field(i).Name
		src := cv.FieldByName(name)
		if !src.IsValid() {
			t.Errorf("activity.Counts.%s has no merge.Counts field to come from", name)
			continue
		}
		if got.Field(i).Int() != src.Int() {
			t.Errorf("activity.Counts.%s = %d, want merge.Counts.%s = %d", name, got.Field(i).Int(), name, src.Int())
		}
	}
}
