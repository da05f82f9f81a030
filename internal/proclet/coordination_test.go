package proclet_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/coordinfo"
	"github.com/pilotage/pilotage/internal/envelope"
)

// The coordination store Init names is recorded for coord.Open, with who
// the process is, before any component starts (here: before hello, which
// comes before the routes that let components start).
func TestCoordinationRecorded(t *testing.T) {
	d := launch(t)
	init := newInit(t, calcName)
	init.Coordination = &envelope.Coordination{
		Endpoints: []string{"unix:///state/etcd/etcd.sock"}, Prefix: "/pilotage/test/", TTL: envelope.Duration(3 * time.Second),
	}
	d.send(init)
	expect[envelope.Hello](d)
	got, ok := coordinfo.Get()
	want := coordinfo.Info{
		Endpoints: []string{"unix:///state/etcd/etcd.sock"}, Prefix: "/pilotage/test/", TTL: 3 * time.Second,
		App: "test", Deployment: deployment, Replica: "g/0",
	}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("coordinfo.Get() = %+v, %v; want %+v", got, ok, want)
	}
	d.send(envelope.Routes{})
	expect[envelope.Ready](d)
}

// A coordination store without endpoints or a prefix is refused: the
// runtime never invents where the app's keys go.
func TestCoordinationIncomplete(t *testing.T) {
	for name, tc := range map[string]struct {
		c    envelope.Coordination
		want string
	}{
		"no prefix":    {envelope.Coordination{Endpoints: []string{"http://127.0.0.1:2379"}}, "without a key prefix"},
		"no endpoints": {envelope.Coordination{Prefix: "/pilotage/test/"}, "without endpoints"},
	} {
		t.Run(name, func(t *testing.T) {
			d := launch(t)
			init := newInit(t, calcName)
			init.Coordination = &tc.c
			d.send(init)
			if err := d.result(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run returned %v, want an error saying %q", err, tc.want)
			}
			if f := expect[envelope.Failed](d); !strings.Contains(f.Error, tc.want) {
				t.Errorf("failed %q, want it to say %q", f.Error, tc.want)
			}
		})
	}
}
