package store

import (
	"context"

	"github.com/fieldwatch/fieldwatch"
)

// QueryReaches is Reaches for the domain's query type.
func (s *Store) QueryReaches(ctx context.Context, q fieldwatch.ReachQuery) ([]fieldwatch.Reach, error) {
	return s.Reaches(ctx, ReachFilter{At: q.At, Township: q.Township, River: q.River, ChiefUserID: q.ChiefUserID, BBox: q.BBox})
}
