package sqlstore

import (
	"path/filepath"
	"testing"
)

// TestRowChunks checks that every batch size splits into chunks that
// cover it in order, and that on SQLite every chunk has its prepared
// statement (so a Commit parses no SQL), while MySQL keeps its chunks of
// commitChunk rows.
func TestRowChunks(t *testing.T) {
	lite := openStore(t, SQLite, filepath.Join(t.TempDir(), "k.db"))
	my := &Store{dialect: MySQL}
	for n := range 1200 {
		xs := make([]int, n)
		for i := range xs {
			xs[i] = i
		}
		for _, s := range []*Store{lite, my} {
			next, chunks := 0, 0
			for c := range rowChunks(s, xs) {
				chunks++
				for _, x := range c {
					if x != next {
						t.Fatalf("%s n=%d: chunk holds %d, want %d", s.dialect, n, x, next)
					}
					next++
				}
				if s.dialect == SQLite {
					for name := range hotStatements {
						if s.hot[hotKey{name, len(c)}] == nil {
							t.Fatalf("sqlite n=%d: no prepared %s for a chunk of %d", n, name, len(c))
						}
					}
				} else if len(c) > commitChunk {
					t.Fatalf("mysql n=%d: chunk of %d rows", n, len(c))
				}
			}
			if next != n {
				t.Fatalf("%s n=%d: chunks cover %d rows", s.dialect, n, next)
			}
			if s.dialect == MySQL && chunks != (n+commitChunk-1)/commitChunk {
				t.Fatalf("mysql n=%d: %d chunks", n, chunks)
			}
		}
	}
}
