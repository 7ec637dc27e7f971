package chat

import (
	"context"
	"encoding/json"
	"time"
)

// ContentDoc is one document of a content collection (a tariff, a news
// item): JSON data checked against the collection's schema before it is
// stored, ordered by Position, shown to shells only when Published.
type ContentDoc struct {
	Collection string
	ID         string
	Position   int
	Published  bool
	Data       json.RawMessage
	UpdatedAt  time.Time
}

// ContentStore keeps content collections.
type ContentStore interface {
	// SeedContent stores docs as the collection's documents if the
	// collection has none yet, and reports whether it did. Seeding at every
	// start is therefore safe: admin edits are never overwritten.
	SeedContent(ctx context.Context, collection string, docs []ContentDoc) (bool, error)
	// Content returns the collection's documents by position (only the
	// published ones when publishedOnly).
	Content(ctx context.Context, collection string, publishedOnly bool) ([]ContentDoc, error)
}
