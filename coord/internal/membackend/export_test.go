package membackend

import "github.com/pilotage/pilotage/coord/internal/backend"

// NewWithHistory returns a store that keeps at most revs revisions and
// bytes bytes of history, to test compaction without a hundred thousand
// writes.
func NewWithHistory(revs, bytes int) backend.Backend { return newStore(revs, bytes) }
