package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
)

// The pilotage command under test, built once per test binary: static,
// as deploy needs it to be to put it in the image.
var built struct {
	once sync.Once
	dir  string
	err  error
}

func pilotageBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pilotage-e2e-"); built.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(built.dir, "pilotage"), ".")
		cmd.Dir = "../../.." // cmd/pilotage
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build pilotage: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, "pilotage")
}

func removeBuilt() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// env is one test's cluster, namespace and clients.
type env struct {
	t  *testing.T
	c  *kubetest.FullCluster
	cs kubernetes.Interface
	ns string
}

// newEnv returns the shared cluster and a namespace of the test's own,
// deleted when it ends.
func newEnv(t *testing.T) *env {
	c := kubetest.FullClusterFor(t)
	cs := c.Clientset(t)
	name := "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.TrimRight(name, "-") + "-" + strconv.FormatInt(time.Now().UnixNano()%100000, 36)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, c: c, cs: cs, ns: name}
	t.Cleanup(func() {
		if t.Failed() {
			e.dumpPods()
		}
		if err := cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	return e
}

// pilotage runs the pilotage command with args against the test's
// cluster and namespace (--namespace added for the commands that take
// it), and returns its stdout, stderr and error.
func (e *env) pilotage(args ...string) (string, string, error) {
	e.t.Helper()
	cmd := exec.Command(pilotageBinary(e.t), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.c.Kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err := cmd.Run()
	e.t.Logf("pilotage %s (%s):\n%s%s", strings.Join(args, " "), time.Since(begin).Round(time.Millisecond), stderr.String(), stdout.String())
	return stdout.String(), stderr.String(), err
}

// deploy deploys the app in dir with the configuration text cfg (""
// for dir's own pilotage.toml) and more flags, and returns the version
// it deployed.
func (e *env) deploy(dir, cfg string, flags ...string) string {
	e.t.Helper()
	args := append([]string{"deploy", "--namespace", e.ns, "--registry", e.c.Registry, "--timeout", "3m"}, flags...)
	if cfg != "" {
		path := filepath.Join(e.t.TempDir(), "pilotage.toml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			e.t.Fatal(err)
		}
		args = append(args, "-c", path)
	}
	out, _, err := e.pilotage(append(args, dir)...)
	if err != nil {
		e.t.Fatalf("pilotage deploy: %v", err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		e.t.Fatalf("pilotage deploy printed %q, want \"app version\"", out)
	}
	return f[1]
}

// listenerURL returns the URL of app's listener Service, reachable from
// inside the cluster's netns.
func (e *env) listenerURL(app, listener string) string {
	e.t.Helper()
	svc, err := e.cs.CoreV1().Services(e.ns).Get(context.Background(), layout.ListenerService(app, listener), metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port)))
}

// dialer returns a dialer into the cluster's netns, closed when the test
// ends.
func (e *env) dialer() *kubetest.NetnsDialer {
	e.t.Helper()
	d, err := e.c.NetnsDialer()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(d.Close)
	return d
}

// pods returns the pods of the test's namespace whose labels match sel
// (a label selector, "" for all).
func (e *env) pods(sel string) []corev1.Pod {
	e.t.Helper()
	list, err := e.cs.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// dumpPods logs every pod's phase and the last lines of its log, for a
// failed test.
func (e *env) dumpPods() {
	ctx := context.Background()
	list, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Logf("list pods: %v", err)
		return
	}
	for _, p := range list.Items {
		var tail int64 = 15
		b, err := e.cs.CoreV1().Pods(e.ns).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		if err != nil {
			b = []byte(err.Error())
		}
		e.t.Logf("pod %s: %s\n%s", p.Name, p.Status.Phase, b)
	}
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get fetches url with client and returns its body; a status other than
// 200 is an error.
func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// result is one request of a load.
type result struct {
	start, end time.Time
	body       string
	err        error
}

// load sends requests to url from workers goroutines, each a new
// connection, until stopped, and records every one.
type load struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []result
}

func startLoad(client *http.Client, url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				r := result{start: time.Now()}
				r.body, r.err = get(client, url)
				r.end = time.Now()
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// count returns how many requests finished so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}

// finish stops the load and returns its results.
func (l *load) finish() []result {
	close(l.stop)
	l.wg.Wait()
	return l.results
}

// failures returns the failed results, and logs up to 5 of them.
func failures(t *testing.T, rs []result) []result {
	var failed []result
	for _, r := range rs {
		if r.err != nil {
			if len(failed) < 5 {
				t.Logf("failed at %s: %v", r.start.Format("15:04:05.000"), r.err)
			}
			failed = append(failed, r)
		}
	}
	return failed
}

// waitRequests waits until l has made n more requests than it had.
func (l *load) waitRequests(t *testing.T, n int) {
	t.Helper()
	target := l.count() + n
	eventually(t, time.Minute, fmt.Sprintf("%d requests", n), func() error {
		if c := l.count(); c < target {
			return fmt.Errorf("%d of %d", c, target)
		}
		return nil
	})
}
