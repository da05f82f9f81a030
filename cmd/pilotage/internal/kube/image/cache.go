package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// keepLayers is how many compressed layers a layer cache keeps: the
// envelope's and a few builds of an app, not every build ever made.
const keepLayers = 8

// CachedFileLayer is FileLayer, compressed once per content: the
// compressed layer is kept in dir, named by the hash of src's bytes and
// dst, so that deploying an unchanged binary again (Go builds are
// reproducible) costs hashing it and its layer (and decompressing the
// layer, for its diff ID) rather than compressing it.
func CachedFileLayer(src, dst, dir string) (v1.Layer, error) {
	key, err := fileKey(src, dst)
	if err != nil {
		return nil, fmt.Errorf("image layer %s: %w", src, err)
	}
	path := filepath.Join(dir, key+".tar.gz")
	if _, err := os.Stat(path); err == nil {
		now := time.Now()
		_ = os.Chtimes(path, now, now) // recently used: kept longest
		return tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
	}
	l, err := FileLayer(src, dst)
	if err != nil {
		return nil, err
	}
	if err := writeLayer(l, dir, path); err != nil {
		return nil, fmt.Errorf("image layer cache: %w", err)
	}
	prune(dir)
	return tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
}

func fileKey(src, dst string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "\n%s\nformat 1", dst) // the layer's path and tar layout
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// writeLayer writes l's compressed bytes to path, whole or not at all.
func writeLayer(l v1.Layer, dir, path string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// pruneAge protects a layer from prune: another deploy sharing the
// cache may be about to push it. A variable for the test.
var pruneAge = 10 * time.Minute

// prune removes all but the keepLayers most recently used layers of dir
// (none used within pruneAge), and temporary files a deploy that was
// interrupted left.
func prune(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type layer struct {
		path string
		used int64
	}
	var layers []layer
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < pruneAge {
			continue
		}
		switch {
		case strings.HasSuffix(e.Name(), ".tar.gz"):
			layers = append(layers, layer{filepath.Join(dir, e.Name()), info.ModTime().UnixNano()})
		case strings.HasSuffix(e.Name(), ".tmp"):
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	slices.SortFunc(layers, func(a, b layer) int { return int(b.used - a.used) })
	for _, l := range layers[min(len(layers), keepLayers):] {
		os.Remove(l.path)
	}
}
