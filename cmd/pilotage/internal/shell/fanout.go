package shell

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// A result is how one target of a fan-out ended.
type result struct {
	path   string
	status int
	err    error
}

// maxFanOut bounds the targets served at once.
const maxFanOut = 32

// fanOut runs fn for every path concurrently and returns how each ended,
// in the order of paths.
func fanOut(ctx context.Context, paths []string, fn func(ctx context.Context, p string) (int, error)) []result {
	results := make([]result, len(paths))
	sem := make(chan struct{}, maxFanOut)
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			status, err := fn(ctx, p)
			results[i] = result{path: p, status: status, err: err}
		}()
	}
	wg.Wait()
	return results
}

// summarize ends a fan-out: with one target, its error or status is the
// command's; with several, a table of how each ended, and the command
// fails if any did. withStatus shows exit statuses (exec).
func (s *Shell) summarize(ctx context.Context, results []result, withStatus bool) error {
	if len(results) == 1 {
		r := results[0]
		if r.err != nil {
			if ctx.Err() != nil && errors.Is(r.err, context.Canceled) {
				return nil // interrupted: how a follow ends
			}
			return r.err
		}
		if r.status != 0 {
			return &exitError{status: r.status}
		}
		return nil
	}
	tw := newTable(s.stderr)
	fmt.Fprintln(tw, "TARGET\tSTATUS")
	failed, notFound := 0, 0
	for _, r := range results {
		cell := "ok"
		switch {
		case r.err != nil && ctx.Err() != nil && errors.Is(r.err, context.Canceled):
			cell = "interrupted"
		case r.err != nil:
			cell, failed = "error: "+oneLine(r.err), failed+1
			if errors.Is(r.err, tree.ErrNotFound) {
				notFound++
			}
		case withStatus:
			cell = fmt.Sprintf("exit %d", r.status)
			if r.status != 0 {
				failed++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", s.display(r.path), cell)
	}
	tw.Flush()
	switch {
	case failed == 0:
		return nil
	case notFound == failed:
		return fmt.Errorf("%d of %d targets not found: %w", failed, len(results), tree.ErrNotFound)
	}
	return fmt.Errorf("%d of %d targets failed", failed, len(results))
}
