package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The kubeconfig's contexts, each named after its user.
const (
	// Admin is in the group system:masters: it may do anything.
	Admin = "admin"
	// Viewer may only get, list and watch pods in the namespace "default".
	Viewer = "viewer"
)

// Timeouts are generous: the machines are shared, and a cold apiserver
// takes about 2 s to become ready on an idle one.
const (
	etcdTimeout  = 60 * time.Second
	readyTimeout = 120 * time.Second
	// startAttempts bounds retries with new ports when a port picked free
	// was taken by someone else before the server bound it.
	startAttempts = 3
)

// Cluster is a running etcd and kube-apiserver, started by Start.
type Cluster struct {
	// Kubeconfig is a kubeconfig file with the contexts Admin (the current
	// one) and Viewer.
	Kubeconfig string
	// Server is the API server's URL, https://127.0.0.1:<port>.
	Server string

	pki     *pki
	configs map[string]*rest.Config
}

// Start starts etcd and kube-apiserver on loopback with random free ports,
// state in tb.TempDir(), waits for /readyz, and stops both (by PID) in
// tb.Cleanup. If the binaries are not present it calls tb.Skip with one
// line naming the command that builds them, unless PILOTAGE_KUBE_REQUIRED=1,
// then it fails.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := BinDir()
	if err != nil {
		msg := fmt.Sprintf("kubetest: %v; build them with %q (scripts/test.sh does)", err, BuildCommand)
		if os.Getenv("PILOTAGE_KUBE_REQUIRED") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	begin := time.Now()
	dir := tb.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	c := &Cluster{pki: p, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	for attempt := 1; ; attempt++ {
		retry, err := c.start(tb, bin, filepath.Join(dir, "run"+strconv.Itoa(attempt)))
		if err == nil {
			break
		}
		if !retry || attempt == startAttempts {
			tb.Fatalf("kubetest: %v", err)
		}
	}
	if err := writeKubeconfig(c.Kubeconfig, c.Server, p); err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	if c.configs, err = restConfigs(c.Kubeconfig); err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := c.grantViewer(ctx); err != nil {
		tb.Fatalf("kubetest: %v", err)
	}
	tb.Logf("kubetest: Kubernetes v%s at %s, ready in %s", Version, c.Server, time.Since(begin).Round(time.Millisecond))
	return c
}

// start starts etcd and the API server with state in dir, and registers
// their stop with tb.Cleanup. On failure, retry says whether new ports
// might help.
func (c *Cluster) start(tb testing.TB, bin, dir string) (retry bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("state dir: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return false, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	c.Server = "https://127.0.0.1:" + strconv.Itoa(ports[2])

	etcd, err := startProcess("etcd", filepath.Join(bin, "etcd"), []string{
		"--name=kubetest",
		"--data-dir=" + filepath.Join(dir, "etcd-data"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kubetest=" + peerURL,
		// Throwaway state: durability costs time on a shared disk.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}, dir)
	if err != nil {
		return false, err
	}
	tb.Cleanup(func() { stopOrFail(tb, etcd) })
	if err := waitFor(etcd, etcdTimeout, etcdHealthy(etcdURL)); err != nil {
		return etcd.portInUse(), etcd.failure(err)
	}

	api, err := startProcess("kube-apiserver", filepath.Join(bin, "kube-apiserver"), []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + c.pki.certFile, "--tls-private-key-file=" + c.pki.keyFile,
		"--token-auth-file=" + c.pki.tokensFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki.saKeyFile,
		"--service-account-signing-key-file=" + c.pki.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// A loopback address cannot be the kubernetes Service's endpoint;
		// without this the apiserver logs that every few seconds.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}, dir)
	if err != nil {
		return false, err
	}
	// Registered after etcd's, so it runs first: the apiserver stops
	// before its storage does.
	tb.Cleanup(func() { stopOrFail(tb, api) })
	if err := waitFor(api, readyTimeout, c.apiReady()); err != nil {
		return api.portInUse(), api.failure(err)
	}
	return false, nil
}

// stopOrFail stops p, failing the test if it cannot; if the test failed,
// it logs the last lines of p's log, which is deleted with the test's
// temporary directory.
func stopOrFail(tb testing.TB, p *process) {
	if err := p.stop(); err != nil {
		tb.Errorf("kubetest: %v", err)
	}
	if tb.Failed() {
		tb.Logf("kubetest: last lines of %s:\n%s", p.name, p.tail(20))
	}
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago. All n are held open together, so they differ.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitFor calls check until it returns nil, p exits, or timeout passes; the
// error is check's last one.
func waitFor(p *process, timeout time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := check(ctx)
		cancel()
		switch {
		case err == nil:
			return nil
		case p.exited():
			return fmt.Errorf("exited before it was ready: %w", err)
		case time.Now().After(deadline):
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// etcdHealthy checks etcd's /health endpoint.
func etcdHealthy(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		return get(ctx, http.DefaultClient, url+"/health", "")
	}
}

// apiReady checks the API server's /readyz as admin.
func (c *Cluster) apiReady() func(context.Context) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pki.caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return func(ctx context.Context) error {
		return get(ctx, client, c.Server+"/readyz", c.pki.tokens[Admin])
	}
}

// get fails unless GET url answers 200.
func get(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// Config returns a client configuration of a context of the kubeconfig
// (Admin or Viewer), or nil if there is no such context. Its rate limit
// is raised above client-go's default of 5 requests a second, which would
// slow tests down.
func (c *Cluster) Config(context string) *rest.Config {
	cfg, ok := c.configs[context]
	if !ok {
		return nil
	}
	return rest.CopyConfig(cfg)
}

// Clientset returns a clientset of a context of the kubeconfig; it fails
// the test if there is no such context.
func (c *Cluster) Clientset(tb testing.TB, context string) *kubernetes.Clientset {
	tb.Helper()
	cfg := c.Config(context)
	if cfg == nil {
		tb.Fatalf("kubetest: no context %q in %s", context, c.Kubeconfig)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		tb.Fatalf("kubetest: clientset of %s: %v", context, err)
	}
	return cs
}
