package kubetest

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
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// e2eTimeout bounds each wait on the cluster; generous, the machine is
// shared.
const e2eTimeout = 2 * time.Minute

// The sysctls kubelet sets at start, which stop-cluster.sh puts back.
var kubeletSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// TestFullCluster: a started cluster has its node and CoreDNS Ready; an
// image pushed from the host runs as a 2-pod Deployment whose Service
// answers inside the netns at its ClusterIP and its DNS name; a second
// cluster waits for the machine's lock; and Stop leaves nothing behind.
func TestFullCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole Kubernetes cluster")
	}
	SkipWithoutFullCluster(t)
	sysctlsBefore := readSysctls(t)
	ctx, cancel := startContext(t)
	defer cancel()
	begin := time.Now()
	c, err := StartFullCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() }) // if a check below fails first; Stop runs once
	t.Logf("cluster %s up in %s: registry %s, netns %s, API %s", c.Dir, time.Since(begin).Round(time.Millisecond), c.Registry, c.Netns, c.Server)
	if c.ServerVersion != "v"+Version || c.NodeIP == "" || c.DNSIP == "" || c.NetnsKubeconfig == "" || c.Bin == "" {
		t.Errorf("cluster.env: %+v", c)
	}
	cs := c.Clientset(t)

	t.Run("node and CoreDNS Ready", func(t *testing.T) {
		ctx := testCtx(t)
		node, err := cs.CoreV1().Nodes().Get(ctx, c.Node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !nodeReady(node) {
			t.Errorf("node %s not Ready: %+v", c.Node, node.Status.Conditions)
		}
		dns, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dns.Status.ReadyReplicas != 1 {
			t.Errorf("coredns: %d ready replicas, want 1", dns.Status.ReadyReplicas)
		}
		svc, err := cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
		if err != nil || svc.Spec.ClusterIP != c.DNSIP {
			t.Errorf("kube-dns Service: %v, ClusterIP %v; want %s", err, svc.Spec.ClusterIP, c.DNSIP)
		}
	})

	t.Run("image from the host, Deployment and Service", func(t *testing.T) {
		ctx := testCtx(t)
		image, err := c.PushBusybox(ctx, "busybox:e2e")
		if err != nil {
			t.Fatal(err)
		}
		const ns = "kubetest-e2e"
		cip := runWeb(t, cs, ns, image)

		// The ClusterIP, from the netns: both replicas answer, once
		// kube-proxy has programmed both endpoints (it lags the pods'
		// readiness by up to a second or so).
		hosts := map[string]bool{}
		for deadline := time.Now().Add(15 * time.Second); len(hosts) < 2 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			body := netnsOutput(t, c, exec.CommandContext(ctx, "/bin/busybox", "wget", "-qO-", "http://"+cip+"/"))
			if !strings.HasPrefix(body, "serving from web-") {
				t.Fatalf("GET http://%s/ in the netns = %q", cip, body)
			}
			hosts[strings.TrimSpace(body)] = true
		}
		if len(hosts) != 2 {
			t.Errorf("replies from %v; want both replicas", hosts)
		}

		// The DNS name, from the netns, through kube-dns: this test binary
		// run there as a small HTTP client.
		name := "web." + ns + ".svc." + c.ClusterDomain
		helper := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNetnsGetHelper$")
		helper.Env = append(os.Environ(), "KUBETEST_GET_URL=http://"+name+"/", "KUBETEST_DNS="+c.DNSIP)
		body := netnsOutput(t, c, helper)
		if !strings.Contains(body, "serving from web-") {
			t.Errorf("GET http://%s/ in the netns = %q", name, body)
		}
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	})

	t.Run("one cluster a machine", func(t *testing.T) {
		work := filepath.Join(t.TempDir(), "second")
		scripts, err := scriptsDir()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", filepath.Join(scripts, "start-cluster.sh"), "--work", work, "--netns", "kubetest-second")
		cmd.Env = append(os.Environ(), "BIN="+c.Bin, "LOCK_TIMEOUT=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("another cluster runs on this machine")) || !bytes.Contains(out, []byte("still locked after 1s")) {
			t.Errorf("a second start while one runs: %v\n%s", err, out)
		}
		if _, err := os.Stat("/run/netns/kubetest-second"); err == nil {
			t.Error("the second start made its netns")
		}
		if _, err := os.Stat(work); err == nil {
			t.Error("the second start made its work dir")
		}
	})

	procs := processes(t, c)
	begin = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s", time.Since(begin).Round(time.Millisecond))
	assertNothingLeft(t, c, procs)
	if after := readSysctls(t); after != sysctlsBefore {
		t.Errorf("sysctls after stop:\n%s\nbefore start:\n%s", after, sysctlsBefore)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestFullClusterWatchdog: a cluster whose owner process exits without
// stopping it stops by itself.
func TestFullClusterWatchdog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole Kubernetes cluster")
	}
	SkipWithoutFullCluster(t)
	scripts, err := scriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := binDirWith(fullBinaries)
	if err != nil {
		t.Fatal(err)
	}
	owner := exec.Command("sleep", "3600")
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	work, err := workDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	cmd := exec.Command("bash", filepath.Join(scripts, "start-cluster.sh"), "--work", work, "--netns", filepath.Base(work))
	cmd.Env = append(os.Environ(), "BIN="+bin, fmt.Sprintf("OWNER_PID=%d", owner.Process.Pid))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	c, err := LoadFullCluster(work)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	procs := processes(t, c)
	if _, ok := procs["watchdog"]; !ok {
		t.Fatalf("no watchdog among %v", procs)
	}
	if err := owner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = owner.Wait() // reaped: the watchdog sees it gone
	deadline := time.Now().Add(e2eTimeout)
	for _, err := os.Stat(filepath.Join(work, "pid")); err == nil; _, err = os.Stat(filepath.Join(work, "pid")) {
		if time.Now().After(deadline) {
			t.Fatalf("the cluster still runs %s after its owner exited; watchdog log:\n%s", e2eTimeout, tailFile(filepath.Join(work, "logs", "watchdog.log"), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	assertNothingLeft(t, c, procs)
	if log := tailFile(filepath.Join(work, "logs", "watchdog.log"), 20); !strings.Contains(log, "cluster torn down") {
		t.Errorf("watchdog log:\n%s", log)
	}
}

// TestFullClusterShared: FullClusterFor under RunWithFullCluster gives
// every test the same running cluster, and StartFullCluster refuses to
// wait for the lock that cluster holds.
func TestFullClusterShared(t *testing.T) {
	var first *FullCluster
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			c := FullClusterFor(t)
			if first == nil {
				first = c
			} else if c != first {
				t.Errorf("FullClusterFor gave %p, then %p", first, c)
			}
			v, err := c.Clientset(t).Discovery().ServerVersion()
			if err != nil || v.GitVersion != "v"+Version {
				t.Errorf("server version %v, %v", v, err)
			}
		})
	}
	if first == nil {
		t.Skip("no shared cluster")
	}
	start := time.Now()
	if _, err := StartFullCluster(context.Background()); err == nil || !strings.Contains(err.Error(), "already runs the shared cluster") {
		t.Errorf("StartFullCluster beside the shared cluster: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("StartFullCluster beside the shared cluster took %s to fail", d)
	}
}

// TestNetnsGetHelper is not a test: TestFullCluster runs this test binary
// in the cluster's netns with -test.run=^TestNetnsGetHelper$, to GET
// $KUBETEST_GET_URL resolving names with the DNS server $KUBETEST_DNS only.
func TestNetnsGetHelper(t *testing.T) {
	url, dns := os.Getenv("KUBETEST_GET_URL"), os.Getenv("KUBETEST_DNS")
	if url == "" {
		t.Skip("a helper of TestFullCluster")
	}
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(dns, "53"))
	}}
	dialer := &net.Dialer{Resolver: resolver, Timeout: 10 * time.Second}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	fmt.Printf("%s", body)
}

// runWeb runs in namespace ns a Deployment of 2 busybox httpd pods, each
// answering "serving from <its name>", and a Service web in front of
// them; it returns the Service's ClusterIP once both pods are Ready.
func runWeb(t *testing.T, cs kubernetes.Interface, ns, image string) string {
	t.Helper()
	ctx := testCtx(t)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:    "web",
					Image:   image,
					Command: []string{"/bin/sh", "-c", "mkdir -p /www && echo serving from $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"},
					Ports:   []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/index.html", Port: intstr.FromInt32(8080)}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
	// The namespace's default ServiceAccount, which pods need, comes from
	// the controller-manager a moment after the namespace.
	eventually(t, "create the Deployment", func() error {
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
		return err
	})
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	eventually(t, "2 web pods ready", func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 2 {
			return fmt.Errorf("%d ready replicas", d.Status.ReadyReplicas)
		}
		return nil
	})
	t.Logf("2 web pods ready in %s", time.Since(begin).Round(time.Millisecond))
	return svc.Spec.ClusterIP
}

// netnsOutput runs cmd, made with exec.CommandContext, in c's netns and
// returns its standard output, failing the test if it fails.
func netnsOutput(t *testing.T, c *FullCluster, cmd *exec.Cmd) string {
	t.Helper()
	c.InNetns(cmd)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s in netns %s: %v\n%s%s", strings.Join(cmd.Args, " "), c.Netns, err, out, stderr.Bytes())
	}
	return string(out)
}

// proc is a recorded process of a cluster: its PID and start time, so
// that a later process with the same PID is not taken for it.
type proc struct {
	pid   int
	start string
}

// processes returns the cluster's recorded processes.
func processes(t *testing.T, c *FullCluster) map[string]proc {
	t.Helper()
	pids, err := c.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"etcd", "kube-apiserver", "kubelet", "containerd", "registry", "lock"} {
		if _, ok := pids[want]; !ok {
			t.Errorf("no pid file for %s among %v", want, pids)
		}
	}
	procs := map[string]proc{}
	for name, pid := range pids {
		start, _ := procStart(pid)
		procs[name] = proc{pid, start}
	}
	return procs
}

// procStart returns a live, not zombie, process's start time (field 22
// of /proc/PID/stat), and false if there is no such process.
func procStart(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return "", false
	}
	return fields[19], true
}

// assertNothingLeft fails t if any of procs still runs, or a mount under
// c.Dir, c's netns, or a kubepods cgroup is still there.
func assertNothingLeft(t *testing.T, c *FullCluster, procs map[string]proc) {
	t.Helper()
	for name, p := range procs {
		if start, ok := procStart(p.pid); ok && start == p.start {
			t.Errorf("%s (pid %d) still runs", name, p.pid)
		}
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], c.Dir+"/") || strings.HasPrefix(f[1], "/run/netns/"+c.Netns)) {
			t.Errorf("mount left: %s", line)
		}
	}
	if _, err := os.Stat("/run/netns/" + c.Netns); err == nil {
		t.Errorf("netns %s left", c.Netns)
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods"); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	if entries, err := os.ReadDir(c.Dir); err != nil {
		t.Error(err)
	} else if len(entries) != 1 || entries[0].Name() != "logs" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v after stop; want only logs", c.Dir, names)
	}
}

// readSysctls returns the kubelet's sysctls, one name=value a line.
func readSysctls(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, k := range kubeletSysctls {
		v, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, bytes.TrimSpace(v))
	}
	return b.String()
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	t.Cleanup(cancel)
	return ctx
}

// eventually calls f until it returns nil, failing the test with its last
// error after e2eTimeout.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
