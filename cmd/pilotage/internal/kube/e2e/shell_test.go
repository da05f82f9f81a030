package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/podconn"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/coord"
	"github.com/pilotage/pilotage/internal/coordinfo"
)

// The shell operates a deployed app through /apps as it does a local
// one, each command run as a user runs it ("pilotage ls ...", its own
// process, with a kubeconfig whose current context's namespace is the
// app's): ls /apps lists it and says where it runs; its components, its
// groups and their pods are listed with their states; the election's
// leader and the leader's lock, read from the app's etcd through a
// port-forward, are those the app itself reports; a config key written
// with another client reads back, and one put by the shell is stored;
// exec runs a command in a pod; logs show the app's lines; stop and start
// of a component scale its group.
func TestShellDeployedApp(t *testing.T) {
	e := newEnv(t)
	version := e.deploy(leaderappDir, "")
	kubeconfig := e.kubeconfigIn(e.ns)
	state := t.TempDir() // no app of this machine's in the listing
	sh := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(pilotageBinary(t), args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "XDG_STATE_HOME="+state, "PILOTAGE_STATE_DIR=")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		begin := time.Now()
		out, err := cmd.Output()
		t.Logf("pilotage %s (%s):\n%s%s", strings.Join(args, " "), time.Since(begin).Round(time.Millisecond), stderr.String(), out)
		if err != nil {
			return string(out), fmt.Errorf("pilotage %s: %w: %s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out), nil
	}
	nodes := func(path string) map[string]tree.Node {
		t.Helper()
		out, err := sh("ls", "-o", "json", path)
		if err != nil {
			t.Fatal(err)
		}
		var list []tree.Node
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("ls -o json %s: %v", path, err)
		}
		byName := map[string]tree.Node{}
		for _, n := range list {
			byName[n.Name] = n
		}
		return byName
	}
	cat := func(path string, v any) {
		t.Helper()
		out, err := sh("cat", "-o", "json", path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("cat -o json %s: %v\n%s", path, err, out)
		}
	}

	// ls /apps: the app, where it runs.
	app, ok := nodes("/apps")["leaderapp"]
	if !ok || app.Kind != "App" || app.State != "Ready" || !strings.Contains(app.Info, "/"+e.ns+", version "+version) {
		t.Fatalf("ls /apps: leaderapp is %+v (listed: %v)", app, ok)
	}
	wide, err := sh("ls", "-o", "wide", "/apps")
	if err != nil || !strings.Contains(wide, "kube ") {
		t.Errorf("ls -o wide /apps does not say where leaderapp runs:\n%s", wide)
	}
	children := nodes("/apps/leaderapp")
	for _, c := range []string{"components", "groups", "listeners", "locks", "leaders", "config"} {
		if _, ok := children[c]; !ok {
			t.Errorf("ls /apps/leaderapp has no %s", c)
		}
	}

	// Its components and the candidates' pods.
	var candidate tree.Node
	for name, n := range nodes("/apps/leaderapp/components") {
		if n.Kind != "Component" || n.State != "Ready" {
			t.Errorf("component %s: %+v", name, n)
		}
		if strings.Contains(name, "Candidate") {
			candidate = n
		}
	}
	if candidate.Ready != "2/2" {
		t.Fatalf("the candidates' component: %+v", candidate)
	}
	var podNames []string
	for _, p := range e.pods(layout.LabelApp + "=leaderapp," + layout.LabelVersion + "=" + version) {
		if strings.Contains(p.Name, "-candidate-") {
			podNames = append(podNames, p.Name)
		}
	}
	replicas := nodes(candidate.Path + "/replicas")
	if len(replicas) != 2 {
		t.Fatalf("replicas of %s: %v, want the pods %v", candidate.Name, replicas, podNames)
	}
	for _, p := range podNames {
		if r, ok := replicas[p]; !ok || r.Kind != "Replica" || r.State != "Ready" || !r.Exec {
			t.Errorf("replica %s: %+v (listed: %v)", p, r, ok)
		}
	}
	if len(nodes("/apps/leaderapp/groups")) != 2 {
		t.Errorf("ls /apps/leaderapp/groups: want the 2 groups")
	}

	// The leader and its lock, as the app reports them.
	client := e.dialer().HTTPClient(5 * time.Second)
	url := e.listenerURL("leaderapp", "web")
	routed(t, client, url+"/leader")
	var leaderPod string
	eventually(t, 30*time.Second, "the shell's leader and lock are the app's", func() error {
		var l leader
		if err := getJSON(client, url+"/leader", &l); err != nil {
			return err
		}
		var lg struct {
			Entry struct {
				Writer string `json:"writer"`
				Lock   uint64 `json:"lock"`
			} `json:"entry"`
		}
		if err := getJSON(client, url+"/ledger", &lg); err != nil {
			return err
		}
		var ls api.LeaderStatus
		cat("/apps/leaderapp/leaders/e2e-leader", &ls)
		var lk api.LockStatus
		cat("/apps/leaderapp/locks/e2e-ledger", &lk)
		switch {
		case ls.Value != l.Value || ls.Token != l.Token || ls.Candidates != 2:
			return fmt.Errorf("the shell's leader %+v, the app's %+v", ls, l)
		case lg.Entry.Writer != l.Value:
			return fmt.Errorf("the ledger's writer %s is not the leader %s yet", lg.Entry.Writer, l.Value)
		case !strings.HasPrefix(lk.Holder, l.Value+" pid ") || lk.Token != lg.Entry.Lock || lk.Token == 0:
			return fmt.Errorf("the shell's lock %+v; the leader %s writes with lock token %d", lk, l.Value, lg.Entry.Lock)
		}
		t.Logf("leader %s (token %d), holding lock %s (token %d)", ls.Value, ls.Token, lk.Name, lk.Token)
		leaderPod = l.Value
		return nil
	})
	if n := nodes("/apps/leaderapp/locks")["e2e-ledger"]; n.Kind != "Lock" || !strings.HasPrefix(n.Info, "leaderapp-") {
		t.Errorf("ls /apps/leaderapp/locks: e2e-ledger is %+v", n)
	}

	// Config keys: one written by another client reads back in the
	// shell; one put by the shell is in the store.
	store := e.storeClient()
	if _, err := store.Put(context.Background(), "e2e/greeting", []byte(`{"hello":"world"}`)); err != nil {
		t.Fatal(err)
	}
	var greeting map[string]string
	cat("/apps/leaderapp/config/e2e%2Fgreeting", &greeting)
	if greeting["hello"] != "world" {
		t.Errorf("cat of a config key: %v, want hello: world", greeting)
	}
	if _, ok := nodes("/apps/leaderapp/config")["ledger"]; !ok {
		t.Errorf("ls /apps/leaderapp/config does not list the app's own key ledger")
	}
	if _, err := sh("put", "/apps/leaderapp/config/from-shell", "hi there"); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Get(context.Background(), "from-shell"); err != nil || string(got.Value) != "hi there" {
		t.Errorf("the key the shell put holds %q (%v), want \"hi there\"", got.Value, err)
	}

	// exec in a pod: the command runs there, its status comes back.
	replica := candidate.Path + "/replicas/" + podNames[0]
	out, err := sh("exec", replica, "/pilotage", "version")
	if err != nil || !strings.HasPrefix(out, "pilotage ") {
		t.Errorf("exec /pilotage version in %s: %q, %v", replica, out, err)
	}
	_, err = sh("exec", replica, "/pilotage", "no-such-command")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("exec of a failing command: %v, want its exit status 2", err)
	}

	// logs: the candidates' lines, each with its replica's path (shown
	// relative to the shell's directory, /apps): the leader's say so.
	out, err = sh("logs", candidate.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "leading") || !strings.Contains(out, strings.TrimPrefix(candidate.Path, "/apps/")+"/replicas/"+leaderPod+": ") {
		t.Errorf("logs of %s show no \"leading\" line of a replica:\n%s", candidate.Path, out)
	}

	// stop and start the candidates' component: its group scales.
	if out, err := sh("stop", candidate.Path); err != nil || !strings.Contains(out, "0 replicas") {
		t.Fatalf("stop %s: %q, %v", candidate.Path, out, err)
	}
	if n := nodes("/apps/leaderapp/components")[candidate.Name]; n.State != "Stopped" {
		t.Errorf("after stop: %+v", n)
	}
	if out, err := sh("start", candidate.Path); err != nil || !strings.Contains(out, "2/2 replicas ready") {
		t.Fatalf("start %s: %q, %v", candidate.Path, out, err)
	}
}

// kubeconfigIn returns a copy of the cluster's kubeconfig whose current
// context's namespace is ns, as "kubectl config set-context --current
// --namespace" makes it.
func (e *env) kubeconfigIn(ns string) string {
	e.t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.c.Kubeconfig)
	if err != nil {
		e.t.Fatal(err)
	}
	current := cfg.Contexts[cfg.CurrentContext]
	if current == nil {
		e.t.Fatalf("kubeconfig %s has no current context", e.c.Kubeconfig)
	}
	current.Namespace = ns
	path := filepath.Join(e.t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// storeClient returns a client of leaderapp's coordination store, through
// a port-forward to its pod, closed when the test ends.
func (e *env) storeClient() *coord.Store {
	e.t.Helper()
	ctx := context.Background()
	cfg, err := e.c.Config()
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := podconn.Forward(ctx, cfg, e.cs.CoreV1().RESTClient(), e.ns, layout.StorePodName("leaderapp", 0), layout.StoreClientPort)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(f.Close)
	s, err := coord.Connect(ctx, coord.Options{Endpoints: []string{"http://" + f.Addr()}, Prefix: coordinfo.AppPrefix("leaderapp"), Replica: "e2e-test"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}
