package kubetest

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BusyboxApplets are the commands of the image PushBusybox makes, each a
// link to /bin/busybox.
var BusyboxApplets = []string{"sh", "cat", "echo", "env", "hostname", "httpd", "ls", "mkdir", "nslookup", "sleep", "wget"}

// PushBusybox pushes, from the host, a one-layer linux/amd64 image of the
// host's static /bin/busybox (Debian's busybox-static) and its
// BusyboxApplets to the cluster's registry as ref (e.g. "busybox:1"); it
// returns the full reference to use in a pod, Registry+"/"+ref. The
// image's entrypoint is /bin/sh and its PATH /bin.
func (c *FullCluster) PushBusybox(ctx context.Context, ref string) (string, error) {
	layer := filepath.Join(c.Dir, "busybox-layer.tar")
	if err := busyboxLayer(layer); err != nil {
		return "", fmt.Errorf("push busybox: %w", err)
	}
	defer os.Remove(layer)
	full := c.Registry + "/" + ref
	crane := filepath.Join(c.Bin, "crane")
	for _, args := range [][]string{
		{"append", "-f", layer, "-t", full},
		{"mutate", full, "--set-platform", "linux/amd64", "--entrypoint", "/bin/sh", "--env", "PATH=/bin", "-t", full},
	} {
		if out, err := exec.CommandContext(ctx, crane, args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("push busybox: crane %s: %w\n%s", args[0], err, out)
		}
	}
	return full, nil
}

// busyboxLayer writes a tar of bin/busybox and its applet links.
func busyboxLayer(path string) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("static busybox (apt-get install busybox-static): %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	entries := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))},
	}
	for _, a := range BusyboxApplets {
		entries = append(entries, &tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if strings.HasSuffix(h.Name, "/busybox") {
			if _, err := tw.Write(bb); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
