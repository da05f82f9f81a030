package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

const leaderappDir = "leaderapp"

// leader is what leaderapp's /leader answers.
type leader struct {
	Value string `json:"value"`
	Token uint64 `json:"token"`
}

// ledger is what leaderapp's /ledger answers.
type ledger struct {
	Entry struct {
		Writer string `json:"writer"`
		Token  uint64 `json:"token"`
		Seq    int    `json:"seq"`
	} `json:"entry"`
	Revision int64 `json:"revision"`
}

func getJSON(client *http.Client, url string, v any) error {
	body, err := get(client, url)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), v)
}

// An app that coordinates, deployed with no store of its own, gets one:
// an etcd StatefulSet with a volume per member. Its replicas in different
// pods elect one leader, whose fenced writes land; deleting the leader's
// pod elects another (the failover time is logged); the store outlives
// a new version of the app and a restart of its own pod (its data is on
// the volume: revisions, and so fencing tokens, keep growing); delete
// removes the store with its volume.
func TestCoordination(t *testing.T) {
	e := newEnv(t)
	defer func() {
		if t.Failed() {
			e.dumpPods()
		}
	}()
	e.deploy(leaderappDir, "")
	ctx := context.Background()
	store := layout.Store("leaderapp")
	set, err := e.cs.AppsV1().StatefulSets(e.ns).Get(ctx, store, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the deploy made no store: %v", err)
	}
	if set.Status.ReadyReplicas != 1 {
		t.Errorf("store %s: %d members ready, want 1", store, set.Status.ReadyReplicas)
	}
	claims, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(ctx, metav1.ListOptions{LabelSelector: layout.LabelApp + "=leaderapp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 1 || claims.Items[0].Status.Phase != "Bound" {
		t.Fatalf("store volumes: %+v, want one bound claim", claims.Items)
	}
	storePod := func() (uid string, err error) {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, layout.StorePodName("leaderapp", 0), metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return string(p.UID), nil
	}
	storeUID, err := storePod()
	if err != nil {
		t.Fatal(err)
	}
	status, _, err := e.pilotage("status", "--namespace", e.ns, "leaderapp")
	if err != nil {
		t.Fatal(err)
	}
	if want := "coordination store: statefulset leaderapp-etcd, 1/1 members ready, at http://leaderapp-etcd-0.leaderapp-etcd:2379"; !strings.Contains(status, want) {
		t.Errorf("status does not say %q:\n%s", want, status)
	}

	client := e.dialer().HTTPClient(5 * time.Second)
	url := e.listenerURL("leaderapp", "web")
	routed(t, client, url+"/leader")
	// leaderNow waits for a leader that accept accepts, and for its
	// fenced writes to be the ledger's.
	leaderNow := func(accept func(string) bool) (leader, ledger) {
		t.Helper()
		var l leader
		var lg ledger
		eventually(t, 30*time.Second, "a leader writing the ledger", func() error {
			if err := getJSON(client, url+"/leader", &l); err != nil {
				return err
			}
			if !accept(l.Value) {
				return fmt.Errorf("leader %q", l.Value)
			}
			if err := getJSON(client, url+"/ledger", &lg); err != nil {
				return err
			}
			if lg.Entry.Writer != l.Value || lg.Entry.Token != l.Token {
				return fmt.Errorf("ledger written by %s (token %d), leader %s (token %d)", lg.Entry.Writer, lg.Entry.Token, l.Value, l.Token)
			}
			return nil
		})
		return l, lg
	}
	first, firstLedger := leaderNow(func(string) bool { return true })
	var candidates []string
	for _, p := range e.pods(layout.LabelApp + "=leaderapp") {
		if strings.Contains(p.Name, "-candidate-") {
			candidates = append(candidates, p.Name)
		}
	}
	if len(candidates) != 2 || !slices.Contains(candidates, first.Value) {
		t.Fatalf("leader %s; want one of the 2 candidate pods %v", first.Value, candidates)
	}
	t.Logf("leader %s, token %d", first.Value, first.Token)

	// The leader's pod deleted: the other candidate leads, with a
	// greater token, and only it writes.
	begin := time.Now()
	if err := e.cs.CoreV1().Pods(e.ns).Delete(ctx, first.Value, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var next leader
	eventually(t, 30*time.Second, "a new leader", func() error {
		if err := getJSON(client, url+"/leader", &next); err != nil {
			return err
		}
		if next.Value == first.Value {
			return fmt.Errorf("still %s", next.Value)
		}
		return nil
	})
	failover := time.Since(begin)
	second, secondLedger := leaderNow(func(l string) bool { return l != first.Value })
	t.Logf("failover: pod %s deleted, %s leads %s later (token %d > %d)", first.Value, second.Value, failover.Round(time.Millisecond), second.Token, first.Token)
	if second.Token <= first.Token || secondLedger.Revision <= firstLedger.Revision {
		t.Errorf("second leader's token %d, ledger revision %d; want more than the first's %d, %d", second.Token, secondLedger.Revision, first.Token, firstLedger.Revision)
	}

	// A new version of the app shares the store, untouched: once the
	// old version's candidates are gone, one of the new leads.
	v2 := e.deploy(leaderappDir, "[app]\nname = \"leaderapp\"\n[listeners.web]\naddress = \":8080\"\n# v2\n")
	third, thirdLedger := leaderNow(func(l string) bool { return versionOf("leaderapp", l) == v2 })
	if uid, err := storePod(); err != nil || uid != storeUID {
		t.Errorf("a deploy of a new version restarted the store's pod")
	}
	if third.Token <= second.Token || thirdLedger.Revision <= secondLedger.Revision {
		t.Errorf("after a new version: token %d, revision %d; want more than %d, %d", third.Token, thirdLedger.Revision, second.Token, secondLedger.Revision)
	}

	// The store's pod deleted: it comes back on its volume.
	if err := e.cs.CoreV1().Pods(e.ns).Delete(ctx, layout.StorePodName("leaderapp", 0), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	begin = time.Now()
	var back ledger
	eventually(t, 60*time.Second, "the ledger written again after the store's restart", func() error {
		if uid, err := storePod(); err != nil || uid == storeUID {
			return fmt.Errorf("the store's pod is not replaced yet (%v)", err)
		}
		if err := getJSON(client, url+"/ledger", &back); err != nil {
			return err
		}
		if back.Revision <= thirdLedger.Revision {
			return fmt.Errorf("ledger at revision %d", back.Revision)
		}
		return nil
	})
	t.Logf("store restart: pod deleted, the ledger written again %s later", time.Since(begin).Round(time.Millisecond))
	if logs, err := e.cs.CoreV1().Pods(e.ns).GetLogs(layout.StorePodName("leaderapp", 0), &corev1.PodLogOptions{Timestamps: true}).DoRaw(ctx); err == nil {
		t.Logf("the store's log since its restart:\n%s", logs)
	}
	if back.Entry.Token < third.Token {
		t.Errorf("after the store's restart the ledger's token is %d, before %d: the store lost its data", back.Entry.Token, third.Token)
	}

	out, _, err := e.pilotage("delete", "--namespace", e.ns, "leaderapp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "deleted leaderapp: ") {
		t.Errorf("delete printed %q", out)
	}
	eventually(t, 30*time.Second, "the store and its volume removed", func() error {
		sets, err := e.cs.AppsV1().StatefulSets(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		claims, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(sets.Items)+len(claims.Items) > 0 {
			return fmt.Errorf("%d statefulsets, %d claims left", len(sets.Items), len(claims.Items))
		}
		return nil
	})
}

// A store of three members (etcd_replicas = 3) forms its cluster from
// pods started together, and serves on while one member's pod is
// replaced: the leader's fenced writes keep landing, and the member
// rejoins on its volume.
func TestCoordinationThreeMembers(t *testing.T) {
	e := newEnv(t)
	defer func() {
		if t.Failed() {
			e.dumpPods()
		}
	}()
	// With the pods' resources and an autoscaler for the candidates.
	version := e.deploy(leaderappDir, "[app]\nname = \"leaderapp\"\n[listeners.web]\naddress = \":8080\"\n"+
		"[kube]\netcd_replicas = 3\ncpu = \"50m\"\nmemory = \"256Mi\"\n[kube.autoscale.\"leaderapp.Candidate\"]\nmax = 3\n")
	ctx := context.Background()
	hpa, err := e.cs.AutoscalingV2().HorizontalPodAutoscalers(e.ns).Get(ctx, "leaderapp-"+version+"-leaderapp-candidate", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no autoscaler for the candidates: %v", err)
	}
	if hpa.Spec.MaxReplicas != 3 || *hpa.Spec.MinReplicas != 1 || hpa.Spec.ScaleTargetRef.Name != hpa.Name {
		t.Errorf("autoscaler %s: %+v", hpa.Name, hpa.Spec)
	}
	for _, p := range e.pods(layout.LabelVersion + "=" + version) {
		r := p.Spec.Containers[0].Resources
		if r.Requests.Cpu().String() != "50m" || r.Limits.Memory().String() != "256Mi" {
			t.Errorf("pod %s: resources %+v, want 50m of CPU and 256Mi of memory", p.Name, r)
		}
	}
	set, err := e.cs.AppsV1().StatefulSets(e.ns).Get(ctx, layout.Store("leaderapp"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Status.ReadyReplicas != 3 {
		t.Fatalf("%d members ready, want 3", set.Status.ReadyReplicas)
	}
	client := e.dialer().HTTPClient(5 * time.Second)
	url := e.listenerURL("leaderapp", "web")
	routed(t, client, url+"/ledger")

	// Read the ledger every 100 ms while member 0's pod is replaced, and
	// on until it advanced again after the store was all ready.
	type reading struct {
		at       time.Time
		revision int64
		err      error
	}
	var (
		mu       sync.Mutex
		rs       []reading
		replaced time.Time // when the store was all ready again
		before   int64     // the last revision read before then
	)
	done, quit := make(chan struct{}), make(chan struct{})
	defer close(quit) // a failed wait below ends the reads
	go func() {
		defer close(done)
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			var lg ledger
			err := getJSON(client, url+"/ledger", &lg)
			mu.Lock()
			rs = append(rs, reading{time.Now(), lg.Revision, err})
			// Done once a write landed after the replacement.
			over := !replaced.IsZero() && err == nil && lg.Revision > before
			mu.Unlock()
			if over {
				return
			}
			select {
			case <-quit:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	member := layout.StorePodName("leaderapp", 0)
	old, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, member, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().Pods(e.ns).Delete(ctx, member, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "member 0 replaced and the store all ready", func() error {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, member, metav1.GetOptions{})
		if err != nil {
			return err
		}
		set, err := e.cs.AppsV1().StatefulSets(e.ns).Get(ctx, layout.Store("leaderapp"), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.UID == old.UID || set.Status.ReadyReplicas != 3 {
			return fmt.Errorf("pod %s, %d members ready", p.UID, set.Status.ReadyReplicas)
		}
		return nil
	})
	mu.Lock()
	replaced = time.Now()
	for _, r := range rs {
		if r.err == nil {
			before = max(before, r.revision)
		}
	}
	mu.Unlock()
	<-done
	failed, longest := 0, time.Duration(0)
	lastAdvance := rs[0].at
	var last int64
	for _, r := range rs {
		if r.err != nil {
			failed++
			continue
		}
		if r.revision > last {
			longest = max(longest, r.at.Sub(lastAdvance))
			last, lastAdvance = r.revision, r.at
		}
	}
	t.Logf("%d reads of the ledger while a member was replaced: %d failed; the longest time without a new fenced write: %s",
		len(rs), failed, longest.Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d reads of the ledger failed while a member was replaced", failed)
	}
	// A write proposed through a member while the store's leader changes
	// is lost by etcd and fails at the request timeout (coord's 5 s); the
	// leader's next write lands. More than that, and a write hung.
	if lastAdvance.Before(replaced) || longest > 8*time.Second {
		t.Errorf("the ledger was not written again after the member's restart: last advance at %s, the store ready at %s, the longest gap %s",
			lastAdvance.Format(time.StampMilli), replaced.Format(time.StampMilli), longest)
	}
}
