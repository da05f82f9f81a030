package kubefs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
)

// BenchmarkListPods10k measures ls of a namespace of 10,000 pods: the
// first List of a new FS (its informer's list), a later List (from the
// cache), a completion-style List of the namespace's resource types, and,
// for comparison, kubectl get pods -o name in the same run; and how much
// the process's memory grew for the first FS's cache.
func BenchmarkListPods10k(b *testing.B) {
	const (
		ns      = "bench"
		pods    = 10000
		workers = 16
	)
	c := kubetest.Start(b)
	cfg := c.Config(kubetest.Admin)
	cfg.QPS = -1 // no client-side rate limit for creating the pods
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	createPods(b, admin, ns, pods, workers)
	b.Logf("created %d pods in %v", pods, time.Since(start).Round(time.Millisecond))
	bin, err := kubetest.BinDir()
	if err != nil {
		b.Fatal(err)
	}

	dir := "/kube/admin/namespaces/" + ns + "/pods"
	var first, later, complete, kubectl time.Duration
	var rssGrowth, heapGrowth float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rss0, heap0 := vmRSS(b), heapInUse()
		fs, err := New(Options{Kubeconfig: c.Kubeconfig})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		nodes, err := fs.List(ctx, dir)
		first += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(nodes) != pods {
			b.Fatalf("listed %d pods, want %d", len(nodes), pods)
		}
		if i == 0 {
			rssGrowth, heapGrowth = float64(vmRSS(b)-rss0)/(1<<20), float64(heapInUse()-heap0)/(1<<20)
		}
		t0 = time.Now()
		if _, err := fs.List(ctx, dir); err != nil {
			b.Fatal(err)
		}
		later += time.Since(t0)
		t0 = time.Now()
		if _, err := fs.List(ctx, "/kube/admin/namespaces/"+ns); err != nil {
			b.Fatal(err)
		}
		complete += time.Since(t0)
		fs.Close()

		t0 = time.Now()
		out, err := exec.Command(filepath.Join(bin, "kubectl"), "--kubeconfig", c.Kubeconfig, "get", "pods", "-n", ns, "-o", "name").Output()
		kubectl += time.Since(t0)
		if err != nil {
			b.Fatalf("kubectl: %v", err)
		}
		if n := strings.Count(string(out), "\n"); n != pods {
			b.Fatalf("kubectl listed %d pods", n)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(first), "first-list-ms")
	b.ReportMetric(ms(later), "list-ms")
	b.ReportMetric(ms(complete), "complete-ms")
	b.ReportMetric(ms(kubectl), "kubectl-ms")
	b.ReportMetric(rssGrowth, "rss-growth-MB")
	b.ReportMetric(heapGrowth, "heap-growth-MB")
}

// createPods creates n bare pods (Pending: no node runs them) in ns with
// workers concurrent clients' requests.
func createPods(b *testing.B, admin kubernetes.Interface, ns string, n, workers int) {
	var (
		wg    sync.WaitGroup
		next  = make(chan int)
		errMu sync.Mutex
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "bench"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
				}
				if _, err := admin.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatalf("create pods: %v", first)
	}
}

// vmRSS returns the process's resident memory, from /proc/self/status.
func vmRSS(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
