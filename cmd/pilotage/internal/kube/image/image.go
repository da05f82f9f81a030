// Package image builds the container image of one version of an app
// without a Docker engine, and pushes it: two layers on an empty base,
// the pilotage binary (the pod's envelope, also the coordination store's
// server) and the app's binary, both static. It uses go-containerregistry
// for the image and the registry protocol; the layers are reproducible
// (fixed times and modes), so an unchanged binary is an unchanged layer
// that the registry already has.
package image

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// Platform is the only platform images are built for today.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Build returns the image of an app from its two layers: envelope (a
// static pilotage binary at layout.EnvelopePath) and app (the app's
// static binary at layout.AppPath), as FileLayer makes them.
func Build(envelope, app v1.Layer) (v1.Image, error) {
	return build([]string{layout.EnvelopePath, "kube-envelope"}, envelope, app)
}

// BuildTool returns the image of the pods that run pilotage itself (the
// coordination store's, a canary's router): the envelope's layer alone,
// each pod naming its command. It changes only with the pilotage binary,
// not with the app.
func BuildTool(envelope v1.Layer) (v1.Image, error) {
	return build([]string{layout.EnvelopePath}, envelope)
}

func build(entrypoint []string, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = Platform.OS, Platform.Architecture
	cfg.Config.Entrypoint = entrypoint
	cfg.Config.WorkingDir = "/"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// FileLayer is a layer holding the static executable src at dst, mode
// 0755, owned by root, with the zero time: the same bytes give the same
// digest. Its digest is computed (the layer compressed) on first use,
// once.
func FileLayer(src, dst string) (v1.Layer, error) {
	if err := CheckStatic(src); err != nil {
		return nil, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	opener := func() (io.ReadCloser, error) {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer f.Close()
			tw := tar.NewWriter(pw)
			err := tw.WriteHeader(&tar.Header{Name: dst[1:], Typeflag: tar.TypeReg, Mode: 0o755, Size: fi.Size(), Format: tar.FormatPAX})
			if err == nil {
				_, err = io.Copy(tw, f)
			}
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
	l, err := tarball.LayerFromOpener(opener, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image layer %s: %w", src, err)
	}
	return l, nil
}

// CheckStatic returns an error unless path is an ELF executable for
// Platform that needs no dynamic loader: the image has no libc.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not a Linux executable: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s is built for %s, not %s/%s", path, f.Machine, Platform.OS, Platform.Architecture)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is linked dynamically (built with cgo): the image has no C library; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// Push writes img to ref ("localhost:5000/shop:3f2a1b0c") with the
// credentials of the user's Docker config (or none), reporting progress
// to progress (which may be nil), and returns the reference by digest
// that pods should run ("localhost:5000/shop@sha256:...").
func Push(ctx context.Context, ref string, img v1.Image, progress func(done, total int64)) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", ref, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithPlatform(Platform)}
	var updates chan v1.Update
	done := make(chan struct{})
	if progress != nil {
		updates = make(chan v1.Update, 16)
		opts = append(opts, remote.WithProgress(updates))
		go func() {
			defer close(done)
			for u := range updates {
				if u.Error == nil {
					progress(u.Complete, u.Total)
				}
			}
		}()
	} else {
		close(done)
	}
	err = remote.Write(r, img, opts...)
	<-done // remote.Write closes updates
	if err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	return DigestRef(ref, d)
}

// DigestRef returns the reference by digest d of the image ref names
// ("localhost:5000/shop@sha256:..."): what Push returns, known before it.
func DigestRef(ref string, d v1.Hash) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", ref, err)
	}
	return r.Context().Digest(d.String()).String(), nil
}
