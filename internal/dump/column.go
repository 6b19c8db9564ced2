package dump

// Column identifies one of the fields of a Seclytics predictions dump. The
// order follows the guide's mapping table ("0 (first token)" ... "10").
type Column int

// The columns of a Seclytics predictions dump.
const (
	IP Column = iota
	PredictedAt
	PredictedNetblock
	PredictedCategory
	Cluster
	DetectedBy
	DetectedIdentifiers
	DetectedCategories
	DetectedAt
	LastSeenAt
	Importance

	// NumColumns is the number of known columns.
	NumColumns
)

// ColumnNames are the header names (CSV) and keys (NDJSON) of each column, in
// Column order. Matching is case-insensitive and ignores surrounding blanks.
var ColumnNames = [NumColumns]string{
	"ip",
	"predicted_at",
	"predicted_netblock",
	"predicted_category",
	"cluster",
	"detected_by",
	"detected_identifiers",
	"detected_categories",
	"detected_at",
	"last_seen_at",
	"importance",
}

// String returns the column's header name.
func (c Column) String() string {
	if c < 0 || c >= NumColumns {
		return "unknown"
	}
	return ColumnNames[c]
}

// IsList reports whether the column holds a list of values.
func (c Column) IsList() bool {
	return c == DetectedBy || c == DetectedIdentifiers || c == DetectedCategories
}
