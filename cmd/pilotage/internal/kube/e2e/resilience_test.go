package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// A Calc pod made slow under load is ejected by its caller, the main
// group's pod, as under "pilotage run"; pilotage status --kube says which
// pod and by whom (from each pod's envelope), and the calls keep
// succeeding on the other pods.
func TestEjectionOnKubernetes(t *testing.T) {
	e := newEnv(t)
	v := e.deploy(loadappDir, `
[listeners.http]
address = ":8080"
[listeners.site]
address = ":8081"
[run.components."pilotage.Main"]
replicas = 1
[run.components."testapp.Calc"]
replicas = 3
[calls.components."testapp.Calc"]
methods = { PID = "300ms" }
`)
	client := e.dialer().HTTPClient(10 * time.Second)
	url := e.listenerURL("loadapp", "http")
	routed(t, client, url+"/pid")
	status := func() deploy.AppStatus {
		t.Helper()
		out, _, err := e.pilotage("status", "--kube", "--namespace", e.ns, "--json", "loadapp")
		if err != nil {
			t.Fatalf("pilotage status --kube: %v", err)
		}
		var st deploy.AppStatus
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("pilotage status --kube --json: %v", err)
		}
		return st
	}
	if st := status(); len(st.Calls) != 0 || st.CallsError != "" {
		t.Errorf("a healthy app's status has calls %+v (%s)", st.Calls, st.CallsError)
	}
	mains := e.pods(layout.LabelVersion + "=" + v + "," + layout.LabelGroup + "=pilotage-main")
	if len(mains) != 1 {
		t.Fatalf("%d pods of the main group, want 1", len(mains))
	}
	calcPrefix := "loadapp-" + v + "-testapp-calc-"

	if _, err := get(client, url+"/fault?mode=slow"); err != nil {
		t.Fatalf("make a Calc pod slow: %v", err)
	}
	l := startLoad(client, url+"/pid", 4)
	var ejected deploy.Ejection
	eventually(t, time.Minute, "the slow Calc pod to be ejected", func() error {
		st := status()
		for _, c := range st.Calls {
			if strings.HasSuffix(c.Component, "/testapp.Calc") && len(c.Ejected) == 1 {
				ejected = c.Ejected[0]
				return nil
			}
		}
		return fmt.Errorf("calls %+v (%s)", st.Calls, st.CallsError)
	})
	if !strings.HasPrefix(ejected.Pod, calcPrefix) || len(ejected.By) != 1 || ejected.By[0] != mains[0].Name {
		t.Errorf("ejected %+v, want a pod %s* ejected by %s", ejected, calcPrefix, mains[0].Name)
	}
	out, _, err := e.pilotage("status", "--kube", "--namespace", e.ns, "loadapp")
	if want := "testapp.Calc: pod " + ejected.Pod + " ejected (failing or timing out) by " + mains[0].Name; err != nil || !strings.Contains(out, want) {
		t.Errorf("pilotage status --kube: %v; want a line %q", err, want)
	}

	// While it is ejected, the other pods serve: at most the probes fail.
	l.finish()
	l = startLoad(client, url+"/pid", 4)
	l.waitRequests(t, 300)
	rs := l.finish()
	failed := failures(t, rs)
	if float64(len(failed)) > 0.01*float64(len(rs)) {
		t.Errorf("%d of %d requests failed with the slow pod ejected (over 1%%)", len(failed), len(rs))
	}
	t.Logf("%d requests with pod %s ejected, %d failed", len(rs), ejected.Pod, len(failed))
}
