package api

import (
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf8"
)

// The kinds of the coordination store's resources, under /apps/<app>.
const (
	KindLock      Kind = "Lock"      // LockStatus
	KindLeader    Kind = "Leader"    // LeaderStatus
	KindConfigKey Kind = "ConfigKey" // ConfigKeyStatus
)

// Names of the collections of the coordination store's resources.
const (
	Locks   = "locks"
	Leaders = "leaders"
	Config  = "config"
)

// ActionRelease takes a lock from its holder by force (POST /v2/act): the
// holder's lock context is cancelled and its fenced writes fail; the next
// waiter gets a larger token.
const ActionRelease = "release"

// LockStatus is the status of a Lock: a lock of the app's coordination
// store that someone holds or waits for. Its Expires is current in a get
// or list, but its change alone (the holder renewing its lease) is not an
// event.
type LockStatus struct {
	Name    string `json:"name"`
	Holder  string `json:"holder"` // "<replica> pid <pid>" of the holder's session
	Token   uint64 `json:"token"`  // the holder's fencing token
	Waiters int    `json:"waiters"`
	// Expires is when the holder's lease ends unless renewed (zero if
	// the store does not say).
	Expires time.Time `json:"expires,omitzero"`
}

// LeaderStatus is the status of a Leader: an election of the app's
// coordination store that has candidates, and who leads it.
type LeaderStatus struct {
	Election   string `json:"election"`
	Holder     string `json:"holder"` // "<replica> pid <pid>" of the leader's session
	Value      string `json:"value"`  // what the leader announced (an address, say)
	Token      uint64 `json:"token"`  // the leadership's fencing token
	Candidates int    `json:"candidates"`
}

// ConfigKeyStatus is the status of a ConfigKey: a key of the app's
// key/value and config store. Its value is not in it: GET /v2/value of
// its path returns it.
type ConfigKeyStatus struct {
	Key            string `json:"key"`
	Revision       int64  `json:"revision"` // of its last write
	CreateRevision int64  `json:"create_revision"`
	Size           int    `json:"size"` // of its value, in bytes
	// Typed: a Go type is registered for the key (coord.Config), and a
	// value that does not decode into it is refused.
	Typed bool `json:"typed,omitempty"`
}

// A ConfigValue is a config key with its value: the answer of GET, PUT
// and DELETE /v2/value/<path of a ConfigKey>.
type ConfigValue struct {
	Key string `json:"key"`
	// Revision is that of the key's last write; after a DELETE, the
	// store's revision after it.
	Revision       int64 `json:"revision"`
	CreateRevision int64 `json:"create_revision,omitempty"`
	Typed          bool  `json:"typed,omitempty"`
	// Value is the value, as text, or in base64 if Encoding says so (a
	// value that is not UTF-8). Empty after a DELETE.
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"` // "" or "base64"
	// Deleted, after a DELETE, says whether the key existed.
	Deleted bool `json:"deleted,omitempty"`
}

// MaxValueBody bounds the body of PUT /v2/value: the store's limit on a
// value (1 MiB), which it checks itself, and a byte more, to tell a value
// over it.
const MaxValueBody = 1<<20 + 1

// SetValue sets the value of cv to value: as text if it is UTF-8, else in
// base64.
func (cv *ConfigValue) SetValue(value []byte) {
	if utf8.Valid(value) {
		cv.Value, cv.Encoding = string(value), ""
		return
	}
	cv.Value, cv.Encoding = base64.StdEncoding.EncodeToString(value), "base64"
}

// Bytes returns the value of cv, and whether it is not text (sent in
// base64).
func (cv *ConfigValue) Bytes() (b []byte, binary bool, err error) {
	switch cv.Encoding {
	case "":
		return []byte(cv.Value), false, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(cv.Value)
		if err != nil {
			return nil, true, fmt.Errorf("config key %s: its value: %w", cv.Key, err)
		}
		return b, true, nil
	}
	return nil, false, fmt.Errorf("config key %s: its value is in encoding %q, which this pilotage does not know", cv.Key, cv.Encoding)
}
