package appfs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// redactedPrefix begins what Read shows of a secret value.
const redactedPrefix = "<redacted: "

// configLoc returns the location of p if it is the path of a config key,
// existing or not, else an error for op.
func (f *FS) configLoc(ctx context.Context, op, p string) (*loc, error) {
	l, root, err := f.locate(ctx, p)
	if err != nil {
		return nil, err
	}
	if root || len(l.elems) != 2 || l.elems[0] != api.Config {
		if _, err := f.Stat(ctx, p); err != nil {
			return nil, err
		}
		return nil, tree.NotSupported(op, p)
	}
	return l, nil
}

// readConfig returns the value of the config key at l: the JSON it holds,
// else its text (base64 for one that is not UTF-8), redacted if it is a
// secret and opts does not reveal it; at its revision.
func (f *FS) readConfig(ctx context.Context, l *loc, opts tree.ReadOptions) (tree.Content, error) {
	cv, err := l.cache.client.Value(ctx, l.apiPath())
	if err != nil {
		return tree.Content{}, f.fail(ctx, "read", l, err)
	}
	raw, binary, err := valueBytes(cv)
	if err != nil {
		return tree.Content{}, fmt.Errorf("read %s: %w", l.path, err)
	}
	c := tree.Content{Version: strconv.FormatInt(cv.Revision, 10)}
	switch {
	case api.SecretKey(cv.Key) && !opts.Reveal:
		c.Value, c.Redacted = fmt.Sprintf("%s%d bytes>", redactedPrefix, len(raw)), true
	case binary:
		c.Value = cv.Value
	case json.Valid(raw):
		c.Value = json.RawMessage(raw)
	default:
		c.Value = string(raw)
	}
	return c, nil
}

// valueBytes returns the value of cv, and whether it is not text (the
// API sends it in base64).
func valueBytes(cv *api.ConfigValue) (b []byte, binary bool, err error) {
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

// Write sets the config key at p (existing or not) to value, if its
// revision is still version (empty: whatever it is), and returns its new
// revision. A JSON string written over a key holding text (or bytes, in
// base64) stores that text (or bytes); any other value is stored as the
// JSON it is.
func (f *FS) Write(ctx context.Context, p string, value json.RawMessage, version string) (string, error) {
	l, err := f.configLoc(ctx, "write", p)
	if err != nil {
		return "", err
	}
	if !json.Valid(value) {
		return "", &pathError{msg: fmt.Sprintf("write %s: the value is not JSON", l.path), kind: tree.ErrInvalid}
	}
	rev := int64(-1)
	if version != "" {
		if rev, err = strconv.ParseInt(version, 10, 64); err != nil || rev < 0 {
			return "", &pathError{msg: fmt.Sprintf("write %s: version %q is not a revision of the store", l.path, version), kind: tree.ErrInvalid}
		}
	}
	data, err := f.valueToStore(ctx, l, value)
	if err != nil {
		return "", err
	}
	c := l.cache.client
	var cv *api.ConfigValue
	if rev >= 0 {
		cv, err = c.CompareAndSwapValue(ctx, l.apiPath(), data, rev)
	} else {
		cv, err = c.PutValue(ctx, l.apiPath(), data)
	}
	if err != nil {
		return "", f.fail(ctx, "write", l, err)
	}
	return strconv.FormatInt(cv.Revision, 10), nil
}

// valueToStore returns the bytes to store for value at l: the text of a
// JSON string if the key is new or holds text or bytes, else value.
func (f *FS) valueToStore(ctx context.Context, l *loc, value json.RawMessage) ([]byte, error) {
	var s string
	if json.Unmarshal(value, &s) != nil {
		return value, nil
	}
	key := l.elems[1]
	if api.SecretKey(key) && strings.HasPrefix(s, redactedPrefix) {
		return nil, &pathError{msg: fmt.Sprintf("write %s: the value is the placeholder of a redacted secret, not the secret", l.path), kind: tree.ErrInvalid}
	}
	cv, err := l.cache.client.Value(ctx, l.apiPath())
	switch {
	case errors.Is(err, api.ErrNotFound):
		return []byte(s), nil // a new key: a string is text, as "put KEY hello" means
	case err != nil:
		return nil, f.fail(ctx, "write", l, err)
	}
	raw, binary, err := valueBytes(cv)
	switch {
	case err != nil:
		return nil, fmt.Errorf("write %s: %w", l.path, err)
	case binary:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, &pathError{msg: fmt.Sprintf("write %s: the key holds bytes, shown in base64, and the value is not base64: %v", l.path, err), kind: tree.ErrInvalid}
		}
		return b, nil
	case !json.Valid(raw):
		return []byte(s), nil
	}
	return value, nil
}

// Remove deletes the config key at p.
func (f *FS) Remove(ctx context.Context, p string) error {
	l, err := f.configLoc(ctx, "remove", p)
	if err != nil {
		return err
	}
	cv, err := l.cache.client.DeleteValue(ctx, l.apiPath())
	if err != nil {
		return f.fail(ctx, "remove", l, err)
	}
	if !cv.Deleted {
		return tree.NotFound(l.path)
	}
	return nil
}
