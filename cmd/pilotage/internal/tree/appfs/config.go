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

// readConfig returns the value of the config key at l (see
// ConfigContent).
func (f *FS) readConfig(ctx context.Context, l *loc, opts tree.ReadOptions) (tree.Content, error) {
	cv, err := l.cache.client.Value(ctx, l.apiPath())
	if err != nil {
		return tree.Content{}, f.fail(ctx, "read", l, err)
	}
	return ConfigContent(l.path, cv, opts)
}

// ConfigContent returns what cat shows of the config key cv, at the tree
// path p: the JSON it holds, else its text (base64 for one that is not
// UTF-8), redacted if it is a secret and opts does not reveal it; at its
// revision. Every tree of apps shows config keys with it (package
// deployfs too).
func ConfigContent(p string, cv *api.ConfigValue, opts tree.ReadOptions) (tree.Content, error) {
	raw, binary, err := cv.Bytes()
	if err != nil {
		return tree.Content{}, fmt.Errorf("read %s: %w", p, err)
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

// ParseVersion returns the revision a write at p is conditional on:
// version as Content has it, or -1 for none ("").
func ParseVersion(p, version string) (int64, error) {
	if version == "" {
		return -1, nil
	}
	rev, err := strconv.ParseInt(version, 10, 64)
	if err != nil || rev < 0 {
		return 0, &pathError{msg: fmt.Sprintf("write %s: version %q is not a revision of the store", p, version), kind: tree.ErrInvalid}
	}
	return rev, nil
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
	rev, err := ParseVersion(l.path, version)
	if err != nil {
		return "", err
	}
	data, err := StoreBytes(l.path, l.elems[1], value, func() (*api.ConfigValue, error) {
		cv, err := l.cache.client.Value(ctx, l.apiPath())
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			return nil, f.fail(ctx, "write", l, err)
		}
		return cv, err
	})
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

// StoreBytes returns the bytes to store for value (JSON) written to the
// config key key at the tree path p: the text of a JSON string if the key
// is new or holds text or bytes (in base64), else value. current returns
// what the key holds: an error wrapping api.ErrNotFound if nothing.
func StoreBytes(p, key string, value json.RawMessage, current func() (*api.ConfigValue, error)) ([]byte, error) {
	if !json.Valid(value) {
		return nil, &pathError{msg: fmt.Sprintf("write %s: the value is not JSON", p), kind: tree.ErrInvalid}
	}
	var s string
	if json.Unmarshal(value, &s) != nil {
		return value, nil
	}
	if api.SecretKey(key) && strings.HasPrefix(s, redactedPrefix) {
		return nil, &pathError{msg: fmt.Sprintf("write %s: the value is the placeholder of a redacted secret, not the secret", p), kind: tree.ErrInvalid}
	}
	cv, err := current()
	switch {
	case errors.Is(err, api.ErrNotFound):
		return []byte(s), nil // a new key: a string is text, as "put KEY hello" means
	case err != nil:
		return nil, err
	}
	raw, binary, err := cv.Bytes()
	switch {
	case err != nil:
		return nil, fmt.Errorf("write %s: %w", p, err)
	case binary:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, &pathError{msg: fmt.Sprintf("write %s: the key holds bytes, shown in base64, and the value is not base64: %v", p, err), kind: tree.ErrInvalid}
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
