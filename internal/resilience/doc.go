// Package resilience holds the policies that protect calls between
// processes, as logic over explicit time so that each can be tested alone:
//
//   - Limiter: a server's bound on the calls in flight to one component,
//     fixed or adaptive (AIMD on missed deadlines); a call over it is shed
//     at once rather than queued.
//   - Outlier: a client's view of one replica: ejected after consecutive
//     failures or timeouts for an interval that doubles with each ejection,
//     then probed back in with a single call.
//   - RetryBudget: a client's cap on retries to one component, a fraction
//     of its calls plus a small floor per second, so that a failing
//     dependency cannot cause a retry storm.
//
// The transport (internal/rpc) applies them; a component whose replicas
// are all ejected is the open circuit of its callers.
package resilience
