// Package coordtest is the behaviour suite of package coord (module
// github.com/pilotage/pilotage/coord): the same tests, through the public
// API only, against a real etcd server embedded in the test (on a Unix
// socket in the test's temporary directory) and against the in-memory
// store that serves a single process, plus benchmarks against etcd's own
// concurrency package. It lives in the tool's module because the coord
// module must not require the etcd server. It has no code besides its
// tests.
package coordtest
