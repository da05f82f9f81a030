package control

import "time"

// SetBounds sets the history limit and the watcher buffer of feeds made
// from now on, for a test, and returns a function that restores them.
func SetBounds(history, buffer int) (restore func()) {
	h, b := historyLimit, watcherBuffer
	historyLimit, watcherBuffer = history, buffer
	return func() { historyLimit, watcherBuffer = h, b }
}

// SetBookmarkInterval sets how long a watch stays quiet before a
// bookmark, for a test, and returns a function that restores it.
func SetBookmarkInterval(d time.Duration) (restore func()) {
	old := bookmarkInterval
	bookmarkInterval = d
	return func() { bookmarkInterval = old }
}
