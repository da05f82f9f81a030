package pilotage

import (
	"context"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
)

// Types of a component as "pilotage generate" would see it; inspect needs
// no generated code.
type (
	fillComp interface{}
	fillDep  interface{ Dep() }

	fillConfig struct{ Greeting string }

	fillImpl struct {
		Implements[fillComp]
		WithConfig[fillConfig]
		dep       Ref[fillDep]
		admin     Listener
		AdminHTTP Listener // named in lower case as a whole: "adminhttp"
		public    Listener `pilotage:"web"`
		count     int      // not filled by the runtime
	}

	// fillBare has runtime-filled fields but does not embed Implements.
	fillBare struct {
		dep Ref[fillDep]
	}
)

type depImpl struct{}

func (depImpl) Dep() {}

// inspect finds every runtime-filled field, names listeners after their
// field or their tag, and its setters fill the struct it was given.
func TestInspectFindsFilledFields(t *testing.T) {
	impl := &fillImpl{}
	f, err := inspect(impl)
	if err != nil {
		t.Fatal(err)
	}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.SetState("example.com/fill.Comp", logger)
	if got := impl.Logger(context.Background()); got != logger {
		t.Errorf("Logger() after SetState = %p; want the logger set, %p", got, logger)
	}

	if len(f.Refs) != 1 || f.Refs[0].Interface != reflect.TypeFor[fillDep]() {
		t.Fatalf("Refs = %+v; want one of interface %v", f.Refs, reflect.TypeFor[fillDep]())
	}
	dep := depImpl{}
	f.Refs[0].Set(dep)
	if impl.dep.Get() != dep {
		t.Errorf("dep.Get() after Set = %v; want the value set", impl.dep.Get())
	}

	var names []string
	for _, lf := range f.Listeners {
		names = append(names, lf.Name)
	}
	if want := []string{"admin", "adminhttp", "web"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("listener names = %q; want %q (field name in lower case, or the pilotage tag, in field order)", names, want)
	}
	ls := make([]net.Listener, len(f.Listeners))
	for i, lf := range f.Listeners {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ls[i] = l
		lf.Set(l)
	}
	for i, got := range []*Listener{&impl.admin, &impl.AdminHTTP, &impl.public} {
		if got.Listener != ls[i] || got.Name() != names[i] {
			t.Errorf("listener field %d = (%v, %q); want (%v, %q)", i, got.Listener, got.Name(), ls[i], names[i])
		}
	}

	if f.Config != impl.Config() {
		t.Errorf("Config = %p; want a pointer to the struct's config, %p", f.Config, impl.Config())
	}
	f.Config.(*fillConfig).Greeting = "hello"
	if impl.Config().Greeting != "hello" {
		t.Errorf("Config().Greeting = %q after decoding into Fields.Config; want hello", impl.Config().Greeting)
	}
}

// A component without WithConfig has no config to decode into.
func TestInspectWithoutConfig(t *testing.T) {
	type noConfig struct {
		Implements[fillComp]
	}
	f, err := inspect(&noConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Config != nil || len(f.Refs) != 0 || len(f.Listeners) != 0 {
		t.Errorf("Fields = %+v; want no config, refs or listeners", f)
	}
}

func TestInspectRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		impl any
		want string
	}{
		{"no Implements", &fillBare{}, "*pilotage.fillBare does not embed pilotage.Implements"},
		{"not a pointer", fillImpl{}, "implementation pilotage.fillImpl is not a pointer to a struct"},
		{"pointer to a non-struct", new(int), "implementation *int is not a pointer to a struct"},
		{"nil", nil, "implementation <nil> is not a pointer to a struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := inspect(tc.impl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("inspect(%T) = %v; want an error containing %q", tc.impl, err, tc.want)
			}
		})
	}
}
