package kubefs

import (
	"slices"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// The fixed names of the tree below a context.
const (
	namespacesDir = "namespaces"
	clusterDir    = "cluster"
	containersDir = "containers"
)

// A level is how deep a path is in the tree.
type level int

const (
	atMount      level = iota // /kube
	atContext                 // /kube/<ctx>
	atNamespaces              // /kube/<ctx>/namespaces
	atNamespace               // /kube/<ctx>/namespaces/<ns>
	atCluster                 // /kube/<ctx>/cluster
	atResource                // .../<res>
	atObject                  // .../<res>/<name>
	atContainers              // .../pods/<p>/containers
	atContainer               // .../pods/<p>/containers/<c>
)

// A loc is a path of the tree, parsed.
type loc struct {
	path      string
	level     level
	context   string
	namespace string // "" under cluster
	resource  string // as named in the path: "pods", "deployments.apps"
	name      string
	container string
}

// parse returns the loc of path, which must be at or below mount (its
// elements). A path that cannot be in the tree is not found.
func parse(mount []string, path string) (loc, error) {
	elems, err := api.Split(path)
	if err != nil {
		return loc{}, errorf(path, tree.ErrInvalid, err.Error())
	}
	if len(elems) < len(mount) || !slices.Equal(elems[:len(mount)], mount) {
		return loc{}, tree.NotFound(path)
	}
	l := loc{path: path}
	e := elems[len(mount):]
	if len(e) == 0 {
		return l, nil
	}
	l.context, l.level = e[0], atContext
	e = e[1:]
	if len(e) == 0 {
		return l, nil
	}
	switch e[0] {
	case namespacesDir:
		l.level = atNamespaces
		if len(e) == 1 {
			return l, nil
		}
		l.namespace, l.level = e[1], atNamespace
		e = e[2:]
	case clusterDir:
		l.level = atCluster
		e = e[1:]
	default:
		return loc{}, tree.NotFound(path)
	}
	if len(e) == 0 {
		return l, nil
	}
	l.resource, l.level = e[0], atResource
	if len(e) == 1 {
		return l, nil
	}
	l.name, l.level = e[1], atObject
	switch {
	case len(e) == 2:
		return l, nil
	case e[2] != containersDir || l.namespace == "" || l.resource != "pods":
		return loc{}, tree.NotFound(path) // only pods hold containers
	case len(e) == 3:
		l.level = atContainers
		return l, nil
	case len(e) == 4:
		l.container, l.level = e[3], atContainer
		return l, nil
	}
	return loc{}, tree.NotFound(path)
}

// join returns the path of elems below mount.
func join(mount []string, elems ...string) string {
	return api.Join(append(slices.Clip(mount), elems...)...)
}
