// Package shell implements the pilotage shell: cd, ls, cat, edit, rm,
// logs, exec, call and the rest over the tree of package tree, either one
// command at a time for scripts ("pilotage ls /apps/shop/components") or
// interactively ("pilotage sh": a prompt with the path, history, and tab
// completion served from the tree's watch caches).
//
// Exit statuses mean something to scripts: 0 success, 1 an error, 2 bad
// usage, 3 a path that does not exist; exec passes its command's status
// through. Output is plain (no colour, no table borders) when stdout is
// not a terminal, and -o json or -o yaml gives it in a machine-readable
// form.
package shell
