package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/generate"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/image"
)

// toolModule is the pilotage command's module, which "go install" can
// build for the image when the running binary is not static.
const toolModule = "github.com/pilotage/pilotage/cmd/pilotage"

// staticEnv is the environment of a build for the image's platform.
func staticEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS="+image.Platform.OS, "GOARCH="+image.Platform.Architecture)
}

// buildApp writes stale stubs (cacheDir holds generate's freshness
// records) and builds the app in dir, statically for the image's
// platform, into out.
func buildApp(ctx context.Context, dir, out, cacheDir string) error {
	pkgs, err := modulePackages(ctx, dir)
	if err != nil {
		return err
	}
	res, err := generate.Run(generate.Options{Dir: dir, Patterns: pkgs, CacheDir: cacheDir})
	if err != nil {
		return fmt.Errorf("generate:\n%w", err)
	}
	if len(res.Warnings) > 0 {
		var w []string
		for _, e := range res.Warnings {
			w = append(w, e.Error())
		}
		return fmt.Errorf("generate: %s", strings.Join(w, "; "))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = staticEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", dir, err, b)
	}
	return nil
}

// modulePackages returns the packages of the main package's module that
// its binary holds: those whose stubs must be current, wherever in the
// module they are (components beside the main package, or under
// internal/).
func modulePackages(ctx context.Context, dir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.ImportPath}}{{end}}{{end}}", ".")
	cmd.Dir = dir
	cmd.Env = staticEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w\n%s", dir, err, stderr.String())
	}
	return strings.Fields(string(b)), nil
}

// envelopeBinary returns a static pilotage binary for the image: this
// one if it is, else one "go install" builds from this binary's module
// version into cacheDir.
func envelopeBinary(ctx context.Context, cacheDir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the pilotage binary: %w", err)
	}
	selfErr := image.CheckStatic(self)
	if selfErr == nil {
		return self, nil
	}
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" || info.Main.Version == "(devel)" {
		return "", fmt.Errorf("pods run the pilotage binary, and this one cannot go into an image: %w (build it with CGO_ENABLED=0 go build %s)", selfErr, toolModule)
	}
	dir := filepath.Join(cacheDir, "envelope", info.Main.Version)
	bin := filepath.Join(dir, "pilotage")
	if image.CheckStatic(bin) == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", toolModule+"@"+info.Main.Version)
	cmd.Env = append(staticEnv(), "GOBIN="+dir, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build a static pilotage %s for the image: %w\n%s", info.Main.Version, err, b)
	}
	return bin, image.CheckStatic(bin)
}
