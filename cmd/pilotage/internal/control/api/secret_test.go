package api

import "testing"

func TestSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"secrets/db": true, "payment/secret_key": true, "secret": true, "Secret/x": true, "a/SECRETS": true,
		"limits/api": false, "mysecret": false, "a/b_secret": false, "": false,
	} {
		if got := SecretKey(key); got != want {
			t.Errorf("SecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}
