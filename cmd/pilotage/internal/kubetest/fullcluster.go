package kubetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FullCluster is a whole single-node Kubernetes cluster (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, a registry,
// containerd, kubelet, kube-proxy, CoreDNS) running inside a network
// namespace of its own, started by scripts/k8s/start-cluster.sh. Its
// fields are those of the script's cluster.env.
//
// From the host only the API (Kubeconfig) and the registry (Registry) are
// reachable; pod IPs, ClusterIPs and cluster DNS are reachable only from
// inside the netns: see InNetns.
type FullCluster struct {
	// Dir is the cluster's state directory (the script's WORK); its logs/
	// holds every component's log, and stays after Stop.
	Dir string
	// Bin is the directory of the Kubernetes binaries (kubectl, crane, ...).
	Bin string
	// Kubeconfig is a kubeconfig usable from the host, one context
	// "admin" (system:masters), namespace default.
	Kubeconfig string
	// NetnsKubeconfig is the same for programs inside the netns (InNetns),
	// which reach the API server at NodeIP:6443.
	NetnsKubeconfig string
	// Server is the API server's URL on the host, https://127.0.0.1:<port>.
	Server string
	// Registry is the registry's host:port, localhost:<port>, the same
	// name from the host (push) and from the kubelet (pull): an image
	// pushed to Registry+"/app:1" runs as Registry+"/app:1". Plain HTTP.
	Registry string
	// Netns is the network namespace's name (/run/netns/<Netns>).
	Netns string
	// NodeIP is the node's address, inside the netns.
	NodeIP string
	// Node is the node's name.
	Node string
	// PodCIDR, ServiceCIDR, DNSIP and ClusterDomain are the cluster's
	// networks, kube-dns's ClusterIP and its DNS domain (cluster.local).
	PodCIDR, ServiceCIDR, DNSIP, ClusterDomain string
	// ServerVersion is the API server's version, v1.37.2.
	ServerVersion string

	stopOnce sync.Once
	stopErr  error
}

// ErrNoFullCluster is wrapped by the errors of StartFullCluster and
// FullClusterMissing when this machine cannot run a cluster (no binaries,
// not root, missing packages): tests skip on it unless
// PILOTAGE_KUBE_REQUIRED=1.
var ErrNoFullCluster = errors.New("cannot run a full test cluster here")

// fullBinaries are the programs start-cluster.sh runs from BinDir's
// directory.
var fullBinaries = []string{
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
	"kubectl", "crane", "coredns", "pause",
}

// E2EEnv is the environment variable that turns the full-cluster tests
// on.
const E2EEnv = "PILOTAGE_KUBE_E2E"

// PackagesCommand installs the Debian packages start-cluster.sh needs, for
// messages.
const PackagesCommand = "apt-get install -y --no-install-recommends containerd runc containernetworking-plugins busybox-static iptables socat"

// startTimeout bounds a start whose context has no deadline: it includes
// waiting for another cluster on the machine to stop.
const startTimeout = 20 * time.Minute

// FullClusterMissing returns nil if this machine can run a FullCluster, or
// else an error wrapping ErrNoFullCluster, in one line naming the command
// that builds or installs what is missing.
//
// A full cluster takes half a minute of the machine: it runs only where
// $PILOTAGE_KUBE_E2E is 1 (scripts/test.sh sets it), so that plain
// "go test ./..." stays quick.
func FullClusterMissing() error {
	if os.Getenv(E2EEnv) != "1" {
		return fmt.Errorf("%w: the tests on a full cluster run with %s=1 (bash scripts/test.sh sets it)", ErrNoFullCluster, E2EEnv)
	}
	if _, err := scriptsDir(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoFullCluster, err)
	}
	if _, err := binDirWith(fullBinaries); err != nil {
		return fmt.Errorf("%w: %v; build them with %q (scripts/test.sh does)", ErrNoFullCluster, err, BuildCommand)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (kubelet, containerd, network namespaces); run the tests as root", ErrNoFullCluster)
	}
	var missing []string
	for _, c := range []string{"containerd", "runc", "iptables", "socat", "nsenter", "ip", "ss", "openssl", "curl", "flock", "busybox"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		missing = append(missing, "/usr/lib/cni/bridge")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s; install them with %q (.ci/run does)", ErrNoFullCluster, strings.Join(missing, ", "), PackagesCommand)
	}
	return nil
}

// StartFullCluster starts a cluster with scripts/k8s/start-cluster.sh, in a
// new directory under os.TempDir and a netns named after it, and returns
// once its node and CoreDNS are Ready (about 7-12 s). Only one cluster
// runs on a machine at a time: it waits for another's stop, until ctx is
// done. The cluster stops by itself if this process exits without calling
// Stop. If ctx is done before the start finishes, the script is stopped
// and cleans up what it made.
func StartFullCluster(ctx context.Context) (*FullCluster, error) {
	if err := sharedRunning(); err != nil {
		return nil, err
	}
	return startFullCluster(ctx)
}

// startFullCluster is StartFullCluster without the check for the shared
// cluster.
func startFullCluster(ctx context.Context) (*FullCluster, error) {
	if err := FullClusterMissing(); err != nil {
		return nil, err
	}
	scripts, err := scriptsDir()
	if err != nil {
		return nil, err
	}
	bin, err := binDirWith(fullBinaries)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	dir, err := workDir()
	if err != nil {
		return nil, err
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	out, err := os.Create(filepath.Join(logs, "start.log"))
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	defer out.Close()

	cmd := exec.CommandContext(ctx, "bash", filepath.Join(scripts, "start-cluster.sh"),
		"--work", dir, "--netns", filepath.Base(dir))
	cmd.Env = append(os.Environ(), "BIN="+bin, "OWNER_PID="+strconv.Itoa(os.Getpid()))
	if deadline, ok := ctx.Deadline(); ok {
		// The script's own wait for the lock ends a little before ctx, so
		// that its message, which names the holder, is the error.
		wait := int(time.Until(deadline).Seconds()) - 60
		cmd.Env = append(cmd.Env, "LOCK_TIMEOUT="+strconv.Itoa(max(wait, 1)))
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that a cancel reaches the command it
	// waits on too, and SIGTERM, so that it cleans up before it exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Minute
	begin := time.Now()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("start cluster in %s after %s: %w\n--- %s ---\n%s",
			dir, time.Since(begin).Round(time.Millisecond), err, out.Name(), tailFile(out.Name(), 30))
	}
	c, err := LoadFullCluster(dir)
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	return c, nil
}

// workDir makes the cluster's state directory. Its path must be short:
// unix sockets live in it.
func workDir() (string, error) {
	parent := os.TempDir()
	if len(parent) > 40 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "pilotage-k8s-")
	if err != nil {
		return "", fmt.Errorf("cluster state dir: %w", err)
	}
	return dir, nil
}

// LoadFullCluster reads dir/cluster.env, written by a start-cluster.sh
// that succeeded: it attaches to a cluster started by hand too.
func LoadFullCluster(dir string) (*FullCluster, error) {
	path := filepath.Join(dir, "cluster.env")
	env, err := readEnvFile(path)
	if err != nil {
		return nil, err
	}
	c := &FullCluster{
		Dir:             env["WORK"],
		Bin:             env["BIN"],
		Kubeconfig:      env["KUBECONFIG"],
		NetnsKubeconfig: env["NETNS_KUBECONFIG"],
		Server:          env["API_SERVER"],
		Registry:        env["REGISTRY"],
		Netns:           env["NETNS"],
		NodeIP:          env["NODE_IP"],
		Node:            env["NODE"],
		PodCIDR:         env["POD_CIDR"],
		ServiceCIDR:     env["SERVICE_CIDR"],
		DNSIP:           env["DNS_IP"],
		ClusterDomain:   env["CLUSTER_DOMAIN"],
		ServerVersion:   env["SERVER_VERSION"],
	}
	for k, v := range map[string]string{"WORK": c.Dir, "KUBECONFIG": c.Kubeconfig, "REGISTRY": c.Registry, "NETNS": c.Netns, "NODE": c.Node} {
		if v == "" {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return c, nil
}

// readEnvFile parses the KEY='VALUE' lines of a cluster.env; the script
// writes no value with a quote in it.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster env: %w", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE: %q", path, n, line)
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return env, nil
}

// Stop tears the cluster down with scripts/k8s/stop-cluster.sh: it fails
// if anything is left behind (a process, a mount, the netns, a kubepods
// cgroup). Dir keeps only the logs. Calls after the first return its
// result.
func (c *FullCluster) Stop() error {
	c.stopOnce.Do(func() {
		scripts, err := scriptsDir()
		if err != nil {
			c.stopErr = err
			return
		}
		cmd := exec.Command("bash", filepath.Join(scripts, "stop-cluster.sh"), "--work", c.Dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			c.stopErr = fmt.Errorf("stop cluster in %s: %w\n%s", c.Dir, err, out)
		}
	})
	return c.stopErr
}

// InNetns rewrites cmd to run in the cluster's network namespace (only
// that: it keeps the host's mount namespace and file system), for a
// program that must reach ClusterIPs, pod IPs or the cluster DNS, which
// the host cannot. Call it before cmd.Start. There is no DNS inside but
// the cluster's, at DNSIP; the host's resolver cannot be reached.
func (c *FullCluster) InNetns(cmd *exec.Cmd) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		cmd.Err = fmt.Errorf("run in netns %s: %w", c.Netns, err)
		return
	}
	args := append([]string{"nsenter", "--net=/run/netns/" + c.Netns, "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path, cmd.Args = nsenter, args
}

// Config returns a client configuration for the API from the host, as
// admin, its rate limit raised for tests.
func (c *FullCluster) Config() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// Clientset returns a clientset of Config; it fails the test on error.
func (c *FullCluster) Clientset(tb testing.TB) *kubernetes.Clientset {
	tb.Helper()
	cfg, err := c.Config()
	if err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatalf("kubetest: clientset: %v", err)
	}
	return cs
}

// PIDs returns the processes the cluster's scripts recorded, by name
// (etcd, kubelet, ...), while it runs.
func (c *FullCluster) PIDs() (map[string]int, error) {
	files, err := filepath.Glob(filepath.Join(c.Dir, "pid", "*.pid"))
	if err != nil {
		return nil, fmt.Errorf("pid files: %w", err)
	}
	pids := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("pid files: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("pid file %s: %w", f, err)
		}
		pids[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
	}
	return pids, nil
}

// tailFile returns the last n lines of the file at path, for errors.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
