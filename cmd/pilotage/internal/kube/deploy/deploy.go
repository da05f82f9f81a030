// Package deploy is "pilotage deploy", "rollback" and "delete", and
// stop, start and restart of a deployed component: it builds an app's
// image, applies one version of the app with server-side apply, waits
// until it is ready (or says which group is not, and why), switches the
// app's listeners to it at once, and retires the version before it
// (scaled to zero, kept for a rollback).
// Versions live side by side: each has its own Deployments and Services,
// and its replicas only ever find replicas of their own version (see
// kube/envelope), so a switch never mixes versions in one request.
package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/chart"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/image"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/graph"
)

// Options configure Deploy.
type Options struct {
	Target
	Dir        string // the app's main package
	ConfigPath string // pilotage.toml; empty: Dir's, if any
	// Registry is where the image goes ("localhost:5000",
	// "ghcr.io/acme"); empty: [kube] registry of the configuration.
	Registry string
	Timeout  time.Duration // for the version to become ready; 0: 5 minutes
	// Render, if set, writes the version as a Helm chart in this
	// directory (after pushing its image) instead of applying it.
	Render string
	// Canary, if not 0, makes the new version a canary with this share
	// (percent) of the listeners' traffic beside the live one, rather
	// than live: Promote or Abort ends it.
	Canary int
	// Sticky, with Canary, keeps each client on one version: the one a
	// hash of this header or cookie picks ("header:X-User",
	// "cookie:session"; see layout.ParseSticky).
	Sticky   string
	CacheDir string    // for a static pilotage binary, if it must be built
	Out      io.Writer // progress
}

// DefaultTimeout bounds the wait for a version to become ready.
const DefaultTimeout = 5 * time.Minute

// Result says what a deploy did.
type Result struct {
	App, Namespace, Version, Image string
	Previous                       string // the version that was live before, or ""
	Chart                          string // with Options.Render, the chart's directory
}

// Deploy builds, pushes and applies the app in opts.Dir as a new version,
// and makes it live once it is ready.
func Deploy(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	cfg, cfgPath, cfgText, err := loadConfig(opts.ConfigPath, dir)
	if err != nil {
		return nil, err
	}
	app := cfg.App.Name
	if app == "" {
		app = filepath.Base(dir)
		if err := config.CheckAppName(app); err != nil {
			return nil, fmt.Errorf("%w (it comes from %s; set [app] name in pilotage.toml)", err, dir)
		}
	}
	if opts.Canary != 0 && opts.Render != "" {
		return nil, errors.New("--render writes a chart of one version: it takes no --canary")
	}
	if opts.Canary != 0 && (opts.Canary < MinShare || opts.Canary > MaxShare) {
		return nil, fmt.Errorf("--canary %d: a canary's share is %d to %d percent", opts.Canary, MinShare, MaxShare)
	}
	if opts.Sticky != "" && opts.Canary == 0 {
		return nil, errors.New("--sticky keeps clients on one version of a canary: it needs --canary")
	}
	if _, _, err := layout.ParseSticky(opts.Sticky); err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	registry := opts.Registry
	if registry == "" {
		registry = cfg.Kube.Registry
	}
	if registry == "" {
		return nil, fmt.Errorf("no registry to push %s's image to: set [kube] registry in %s, or pass --registry", app, orDefault(cfgPath, "pilotage.toml"))
	}
	// Build, while the cluster is reached and the envelope's layer is
	// compressed.
	t := time.Now()
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = os.UserCacheDir(); err != nil {
			return nil, err
		}
		cacheDir = filepath.Join(cacheDir, "pilotage")
	}
	tmp, err := os.MkdirTemp("", "pilotage-deploy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	buildCtx, stopBuild := context.WithCancel(ctx)
	built := make(chan buildResult, 1)
	go func() {
		bin, err := buildApp(buildCtx, dir, cacheDir, tmp)
		built <- buildResult{bin, err}
	}()
	var envLayer chan layerResult
	defer func() { // on an early return, nothing is left half-written
		stopBuild()
		if built != nil {
			<-built
		}
		if envLayer != nil {
			<-envLayer
		}
	}()

	var c *Cluster
	if opts.Render == "" {
		target := opts.Target
		if target.Namespace == "" {
			target.Namespace = cfg.Kube.Namespace
		}
		if c, err = Connect(target); err != nil {
			return nil, err
		}
		if err := c.checkNamespace(ctx); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "pilotage: deploying %s to namespace %s of %s (context %q)\n", app, c.Namespace, c.Host, c.Context)
	} else {
		fmt.Fprintf(out, "pilotage: rendering %s as a Helm chart in %s\n", app, opts.Render)
	}

	envBin, err := envelopeBinary(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	envLayer = make(chan layerResult, 1)
	layers := filepath.Join(cacheDir, "layers")
	go func() { envLayer <- digestedLayer(envBin, layout.EnvelopePath, layers) }()
	b := <-built
	built = nil
	if b.err != nil {
		return nil, b.err
	}
	appBin := b.bin
	g, err := graph.Read(appBin)
	if err != nil {
		return nil, err
	}
	plan, err := supervisor.NewPlan(app, g, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := objects.ListenerPorts(plan); err != nil { // before the build is pushed
		return nil, err
	}
	for _, n := range plan.Nodes {
		if n.IsUnit() {
			return nil, fmt.Errorf("[units.%s]: units are not deployed to Kubernetes (run them as your cluster's own workloads)", n.Name)
		}
	}
	coordination, store := coordinationOf(app, appBin, cfg)
	fmt.Fprintf(out, "  build     %s for %s/%s, static (%s)\n", app, image.Platform.OS, image.Platform.Architecture, since(t))

	// Image.
	t = time.Now()
	appLayer := digestedLayer(appBin, layout.AppPath, layers)
	if appLayer.err != nil {
		return nil, appLayer.err
	}
	el := <-envLayer
	envLayer = nil
	if el.err != nil {
		return nil, el.err
	}
	img, err := image.Build(el.layer, appLayer.layer)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	version := versionID(digest.String(), cfgText)
	ref := fmt.Sprintf("%s/%s:%s", registry, app, version)
	imageRef, err := image.DigestRef(ref, digest)
	if err != nil {
		return nil, err
	}
	// The push runs while what does not run the image is applied.
	pushCtx, stopPush := context.WithCancel(ctx)
	pushDone := make(chan error, 1)
	var pushed int64 // set by Push's progress, read once it returned
	go func() {
		_, err := image.Push(pushCtx, ref, img, func(done, _ int64) { pushed = done })
		pushDone <- err
	}()
	defer func() { // on an early return, the push stops
		stopPush()
		if pushDone != nil {
			<-pushDone
		}
	}()
	var toolImage string // pilotage's own, for the store and a canary's router
	awaitPush := func() error {
		err := <-pushDone
		pushDone = nil
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  image     %s, %s sent (%s)\n", imageRef, size(pushed), since(t))
		if store != nil || opts.Canary != 0 {
			t := time.Now()
			if toolImage, err = pushToolImage(ctx, registry, app, el.layer); err != nil {
				return err
			}
			fmt.Fprintf(out, "  image     %s, pilotage's, for the coordination store and canary routers (%s)\n", toolImage, since(t))
			if store != nil {
				store.Image = toolImage
			}
		}
		return nil
	}

	v := objects.Version{App: app, Version: version, Image: imageRef, Plan: plan, Config: cfgText, Coordination: coordination, Kube: cfg.Kube, Telemetry: cfg.Telemetry}
	if opts.Render != "" {
		if err := awaitPush(); err != nil {
			return nil, err
		}
		path, err := render(opts.Render, v, store)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "pilotage: chart of %s version %s in %s (helm install %s %s)\n", app, version, path, app, path)
		return &Result{App: app, Version: version, Image: imageRef, Chart: path}, nil
	}

	// Apply: first what does not run the image, while it is pushed.
	applying := time.Now()
	v.Namespace = c.Namespace
	set, err := objects.Build(v)
	if err != nil {
		return nil, err
	}
	st, err := c.readState(ctx, app)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Canary != "":
		return nil, fmt.Errorf("version %s of %s is a canary: end it first with pilotage promote or pilotage abort", st.Canary, app)
	case opts.Canary != 0 && st.Live == "":
		return nil, fmt.Errorf("--canary: no version of %s is live in namespace %s to share traffic with: deploy without --canary first", app, c.Namespace)
	case opts.Canary != 0 && st.Live == version:
		return nil, fmt.Errorf("--canary: version %s is the live one already: nothing changed", version)
	case opts.Canary != 0 && st.Previous == version:
		return nil, fmt.Errorf("--canary: version %s is the one live before %s: pilotage rollback returns to it", version, st.Live)
	}
	n, err := c.applyAccess(ctx, app)
	if err != nil {
		return nil, err
	}
	m, err := c.applyVersion(ctx, set, versionConfig)
	if err != nil {
		return nil, err
	}
	if err := awaitPush(); err != nil {
		return nil, err
	}
	if store != nil {
		k, err := c.applyStore(ctx, *store)
		if err != nil {
			return nil, err
		}
		n += k
	}
	k, err := c.applyVersion(ctx, set, versionWorkloads)
	if err != nil {
		return nil, err
	}
	m += k
	bindings, err := objects.Bindings(app, version, plan)
	if err != nil {
		return nil, err
	}
	if st.Live == "" {
		// Nothing serves yet: the listener Services can select this
		// version now, so that they route by the time it is ready.
		if err := c.applyListeners(ctx, app, version, bindings); err != nil {
			return nil, err
		}
		m += len(bindings)
	}
	fmt.Fprintf(out, "  apply     version %s: %d objects, server-side, field manager %q (%s)\n", version, n+m, "pilotage", since(applying))

	// Wait.
	t = time.Now()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not ready within %s", timeout))
	defer cancel()
	if store != nil {
		if err := c.waitStore(wctx, app, store.Replicas, out); err != nil {
			return nil, err
		}
	}
	if err := c.waitReady(wctx, versionSelector(app, version), "version "+version, len(set.Deployments), out); err != nil {
		live := "no version of " + app + " is live"
		if st.Live != "" && st.Live != version {
			live = "version " + st.Live + " stays live"
		}
		return nil, fmt.Errorf("%w\n(%s; version %s is left as it is for inspection: the next deploy, or pilotage delete, removes it)", err, live, version)
	}
	fmt.Fprintf(out, "  ready     version %s (%s)\n", version, since(t))

	if opts.Canary != 0 {
		// Only the live version and the canary may serve the listeners.
		if _, err := c.pruneVersions(ctx, app, st.Live, st.Previous, version); err != nil {
			return nil, err
		}
		if err := c.startCanary(wctx, app, version, opts.Canary, opts.Sticky, toolImage, st, out); err != nil {
			return nil, fmt.Errorf("canary: %w (version %s stays live; pilotage abort %s removes the canary)", err, st.Live, app)
		}
		fmt.Fprintf(out, "pilotage: %s version %s is a canary beside %s (%s): pilotage promote %s, or pilotage abort %s\n", app, version, st.Live, since(start), app, app)
		return &Result{App: app, Namespace: c.Namespace, Version: version, Image: imageRef, Previous: st.Live}, nil
	}

	// Switch, retire the version that was live (kept, scaled to zero,
	// for a rollback), and remove any other.
	if err := c.switchAndRetire(ctx, app, version, bindings, st, out); err != nil {
		return nil, err
	}
	keep := []string{version, st.Previous}
	if st.Live != version {
		keep = append(keep, st.Live)
	}
	removed, err := c.pruneVersions(ctx, app, keep...)
	if err != nil {
		return nil, err
	}
	for _, v := range removed {
		fmt.Fprintf(out, "  remove    version %s\n", v)
	}
	fmt.Fprintf(out, "pilotage: %s version %s is live (%s)\n", app, version, since(start))
	return &Result{App: app, Namespace: c.Namespace, Version: version, Image: imageRef, Previous: st.Live}, nil
}

type buildResult struct {
	bin string
	err error
}

type layerResult struct {
	layer v1.Layer
	err   error
}

// digestedLayer returns the image layer of the executable src at dst,
// its digest computed, from the layer cache dir.
func digestedLayer(src, dst, dir string) layerResult {
	l, err := image.CachedFileLayer(src, dst, dir)
	if err == nil {
		_, err = l.Digest()
	}
	if err != nil {
		return layerResult{err: fmt.Errorf("image layer %s: %w", dst, err)}
	}
	return layerResult{layer: l}
}

// versionID names a version by what it runs: its image and its
// configuration. Deploying the same build and config again is the same
// version, and applying it changes nothing.
func versionID(digest, cfgText string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s", digest, cfgText)
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// loadConfig reads path, else <dir>/pilotage.toml if it exists; it
// returns the file, its path and its text ("" for none).
func loadConfig(path, dir string) (*config.File, string, string, error) {
	if path == "" {
		path = filepath.Join(dir, "pilotage.toml")
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return config.Empty(), "", "", nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", "", err
	}
	cfg, err := config.Parse(path, string(b))
	if err != nil {
		return nil, "", "", err
	}
	return cfg, path, string(b), nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// render writes version v as a Helm chart in dir: the objects a deploy
// applies, in its order; it returns the chart's directory.
func render(dir string, v objects.Version, store *objects.StoreSpec) (string, error) {
	v.Namespace = ""
	objs, err := versionObjects(v, store)
	if err != nil {
		return "", err
	}
	return chart.Write(dir, chart.Objects{App: v.App, Version: v.Version, Image: v.Image, List: objs})
}

// versionObjects returns every object of version v, live, in the order a
// deploy applies them, with the store the deploy runs for the app (nil:
// none).
func versionObjects(v objects.Version, store *objects.StoreSpec) ([]any, error) {
	set, err := objects.Build(v)
	if err != nil {
		return nil, err
	}
	bs, err := objects.Bindings(v.App, v.Version, v.Plan)
	if err != nil {
		return nil, err
	}
	sa, role, binding := objects.Access(v.App, v.Namespace)
	list := []any{sa, role, binding}
	if store != nil {
		spec := *store
		spec.Namespace = v.Namespace
		ss, svc, err := objects.Store(spec)
		if err != nil {
			return nil, err
		}
		list = append(list, svc, ss)
	}
	if set.ConfigMap != nil {
		list = append(list, set.ConfigMap)
	}
	for _, s := range set.Services {
		list = append(list, s)
	}
	for _, d := range set.Deployments {
		list = append(list, d)
	}
	for _, a := range set.Autoscalers {
		list = append(list, a)
	}
	for _, s := range objects.Listeners(v.App, v.Namespace, v.Version, bs) {
		list = append(list, s)
	}
	return list, nil
}
