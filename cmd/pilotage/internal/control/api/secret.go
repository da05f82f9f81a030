package api

import "strings"

// SecretKey reports whether the config key key holds a secret: one of its
// '/'-separated elements starts with "secret", in any case ("secrets/db",
// "payment/secret_key", "Secret"). Clients show such a value only when
// asked to reveal it; the store itself keeps it like any other.
func SecretKey(key string) bool {
	for e := range strings.SplitSeq(key, "/") {
		if len(e) >= len("secret") && strings.EqualFold(e[:len("secret")], "secret") {
			return true
		}
	}
	return false
}
