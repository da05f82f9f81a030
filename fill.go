package pilotage

import (
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"unsafe"

	"github.com/pilotage/pilotage/internal/host"
)

func init() { host.Inspect = inspect }

// filledField is implemented by pointers to the field types the runtime fills.
var filledField = reflect.TypeFor[interface{ filledByRuntime() }]()

// inspect finds the fields of an implementation struct that the runtime
// fills. impl is a pointer to the struct.
func inspect(impl any) (host.Fields, error) {
	v := reflect.ValueOf(impl)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return host.Fields{}, fmt.Errorf("implementation %T is not a pointer to a struct", impl)
	}
	s := v.Elem()
	var f host.Fields
	for i := 0; i < s.NumField(); i++ {
		sf := s.Type().Field(i)
		if !reflect.PointerTo(sf.Type).Implements(filledField) {
			continue
		}
		// Ref and Listener fields are usually unexported; reach them through
		// their address, as the runtime owns their contents.
		addr := reflect.NewAt(sf.Type, unsafe.Pointer(s.Field(i).UnsafeAddr())).Interface()
		switch x := addr.(type) {
		case interface{ setState(*componentState) }:
			f.SetState = func(name string, logger *slog.Logger) {
				x.setState(&componentState{name: name, logger: logger})
			}
		case interface {
			setRef(any)
			refType() reflect.Type
		}:
			f.Refs = append(f.Refs, host.RefField{Interface: x.refType(), Set: x.setRef})
		case interface{ setListener(string, net.Listener) }:
			name := sf.Tag.Get("pilotage")
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			f.Listeners = append(f.Listeners, host.ListenerField{Name: name, Set: func(l net.Listener) { x.setListener(name, l) }})
		case interface{ configPtr() any }:
			f.Config = x.configPtr()
		}
	}
	if f.SetState == nil {
		return f, fmt.Errorf("%T does not embed pilotage.Implements", impl)
	}
	return f, nil
}
