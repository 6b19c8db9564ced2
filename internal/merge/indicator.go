package merge

import (
	"sort"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
)

// Value formats the value of single-valued slot s for people and exports.
func (r *Record) Value(s Slot) string {
	switch s {
	case PredictedAt:
		return indicator.FormatTime(r.PredictedAt)
	case DetectedAt:
		return indicator.FormatTime(r.DetectedAt)
	case LastSeenAt:
		return indicator.FormatTime(r.LastSeenAt)
	case PredictedNetblock:
		return r.PredictedNetblock.String()
	case PredictedCategory:
		return r.PredictedCategory
	case Cluster:
		return r.Cluster
	case Importance:
		return prediction.FormatImportance(r.Importance)
	case NormalizedImportance:
		return r.Normalized
	}
	panic("merge: not a single-valued slot")
}

// Indicator turns a stored indicator into its public form, with attributes
// sorted by name, then value. runTime resolves a run id to its start time.
func (st *Stored) Indicator(runTime func(id int64) time.Time) indicator.Indicator {
	ind := indicator.Indicator{
		Type:       indicator.TypeOf(st.Addr),
		Value:      st.Addr.String(),
		Status:     st.Status,
		Sources:    []string{},
		Attributes: []indicator.Attribute{},
		CreatedAt:  indicator.Time(st.CreatedAt),
		UpdatedAt:  indicator.Time(st.UpdatedAt),
	}
	if st.ExpiresAt != 0 {
		t := indicator.Time(st.ExpiresAt)
		ind.ExpiresAt = &t
	}
	if st.Has != 0 {
		ind.Sources = append(ind.Sources, indicator.SourceSeclytics)
	}
	for s := Slot(0); s < NumSlots; s++ {
		if !st.Has.Has(s) {
			continue
		}
		add := func(v string) {
			ind.Attributes = append(ind.Attributes, indicator.Attribute{
				Name: Names[s], Value: v, Source: indicator.SourceSeclytics,
				CreatedAt: runTime(st.Created[s]), UpdatedAt: runTime(st.Updated[s]),
			})
		}
		if s.IsList() {
			for _, v := range *st.List(s) {
				add(v)
			}
			continue
		}
		add(st.Value(s))
	}
	sort.SliceStable(ind.Attributes, func(i, j int) bool {
		a, b := ind.Attributes[i], ind.Attributes[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Value < b.Value
	})
	return ind
}
