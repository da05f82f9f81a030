package kubefs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// The annotation kubectl apply keeps the last applied object in: for a
// Secret, its data in clear.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// fieldManager names the tree's writes in managedFields.
const fieldManager = "pilotage"

// target returns the cluster, resource and dynamic client of the object
// l names: a namespace, or an object of a resource.
func (fs *FS) target(ctx context.Context, l loc) (*cluster, *resource, dynamic.ResourceInterface, string, error) {
	switch l.level {
	case atNamespace:
		c, err := fs.cluster(l.path, l.context)
		if err != nil {
			return nil, nil, nil, "", err
		}
		t, err := c.disc.current(ctx)
		if err != nil {
			return nil, nil, nil, "", apiError(l.path, c.server, err)
		}
		if t.namespaces == nil {
			return nil, nil, nil, "", tree.NotFound(l.path)
		}
		return c, t.namespaces, c.dyn.Resource(t.namespaces.gvr), l.namespace, nil
	case atObject, atContainer:
		c, res, err := fs.resolve(ctx, l)
		if err != nil {
			return nil, nil, nil, "", err
		}
		if res.namespaced {
			return c, res, c.dyn.Resource(res.gvr).Namespace(l.namespace), l.name, nil
		}
		return c, res, c.dyn.Resource(res.gvr), l.name, nil
	}
	return nil, nil, nil, "", errNotObject
}

// errNotObject says a path is not an object's.
var errNotObject = errors.New("not an object")

// Read returns a fresh GET of the object at path (a namespace, an object,
// a container of a pod: its spec and status) without its managedFields,
// at its resourceVersion. A Secret's values are redacted unless
// opts.Reveal.
func (fs *FS) Read(ctx context.Context, path string, opts tree.ReadOptions) (tree.Content, error) {
	l, err := parse(fs.mount, path)
	if err != nil {
		return tree.Content{}, err
	}
	c, res, rc, name, err := fs.target(ctx, l)
	if errors.Is(err, errNotObject) {
		return tree.Content{}, tree.NotSupported("read", path)
	}
	if err != nil {
		return tree.Content{}, err
	}
	if !res.get {
		return tree.Content{}, tree.NotSupported("read", path)
	}
	rctx, cancel := bounded(ctx)
	defer cancel()
	u, err := rc.Get(rctx, name, metav1.GetOptions{})
	if err != nil {
		return tree.Content{}, apiError(path, c.server, err)
	}
	if l.level == atContainer {
		if !res.is("", "pods") {
			return tree.Content{}, tree.NotFound(path)
		}
		v, err := containerOf(u.Object, l.container)
		if err != nil {
			return tree.Content{}, errorf(path, tree.ErrNotFound, err.Error())
		}
		return tree.Content{Value: v}, nil
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	content := tree.Content{Value: u.Object}
	if res.update {
		content.Version = u.GetResourceVersion()
	}
	if res.is("", "secrets") && !opts.Reveal {
		content.Redacted = redactSecret(u.Object)
	}
	return content, nil
}

// containerOf returns the container name of the pod obj: its name,
// image, spec and status.
func containerOf(pod map[string]any, name string) (map[string]any, error) {
	find := func(fields ...string) map[string]any {
		list, _, _ := unstructured.NestedSlice(pod, fields...)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["name"] == name {
				return m
			}
		}
		return nil
	}
	var spec, status map[string]any
	for _, kind := range []string{"containers", "initContainers", "ephemeralContainers"} {
		if spec = find("spec", kind); spec != nil {
			status = find("status", strings.TrimSuffix(kind, "s")+"Statuses")
			break
		}
	}
	if spec == nil {
		return nil, fmt.Errorf("pod has no container %s", name)
	}
	v := map[string]any{"name": name, "image": spec["image"], "spec": spec}
	if status != nil {
		v["status"] = status
	}
	return v, nil
}

// redactSecret replaces every value of the Secret obj's data and
// stringData, and the last applied configuration kubectl keeps (which
// holds them too), by "<redacted: N bytes>". It reports whether it
// replaced any.
func redactSecret(obj map[string]any) bool {
	redacted := false
	for _, field := range []string{"data", "stringData"} {
		values, ok := obj[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range values {
			s, _ := v.(string)
			n := len(s)
			if field == "data" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					n = len(b)
				}
			}
			values[k] = placeholder(n)
			redacted = true
		}
	}
	if ann, ok, _ := unstructured.NestedStringMap(obj, "metadata", "annotations"); ok {
		if v, ok := ann[lastAppliedAnnotation]; ok {
			ann[lastAppliedAnnotation] = placeholder(len(v))
			_ = unstructured.SetNestedStringMap(obj, ann, "metadata", "annotations") // a map it just read
			redacted = true
		}
	}
	return redacted
}

func placeholder(n int) string { return fmt.Sprintf("<redacted: %d bytes>", n) }

// Write replaces the object at path by value (JSON) with an update, at
// resourceVersion version unless version is "", and returns its new
// resourceVersion.
func (fs *FS) Write(ctx context.Context, path string, value json.RawMessage, version string) (string, error) {
	l, err := parse(fs.mount, path)
	if err != nil {
		return "", err
	}
	if l.level == atContainer {
		return "", tree.NotSupported("write", path)
	}
	c, res, rc, name, err := fs.target(ctx, l)
	if errors.Is(err, errNotObject) {
		return "", tree.NotSupported("write", path)
	}
	if err != nil {
		return "", err
	}
	if !res.update {
		return "", tree.NotSupported("write", path)
	}
	u, err := decodeObject(value, res, name, l.namespace)
	if err != nil {
		return "", errorf(path, tree.ErrInvalid, err.Error())
	}
	if res.is("", "secrets") && hasPlaceholders(u.Object) {
		return "", errorf(path, tree.ErrInvalid, "the value holds redacted placeholders: read it revealed to edit it")
	}
	if version != "" {
		u.SetResourceVersion(version)
	} else {
		unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	}
	rctx, cancel := bounded(ctx)
	defer cancel()
	out, err := rc.Update(rctx, u, metav1.UpdateOptions{FieldManager: fieldManager})
	if err != nil {
		return "", apiError(path, c.server, err)
	}
	return out.GetResourceVersion(), nil
}

// decodeObject decodes value as the object name (in namespace ns, "" for
// a namespace or a cluster-scoped object) of res: its apiVersion and kind
// default to res's, its name and namespace to the path's, and must be
// them if set.
func decodeObject(value json.RawMessage, res *resource, name, ns string) (*unstructured.Unstructured, error) {
	var obj map[string]any
	if err := json.Unmarshal(value, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("not a JSON object: null")
	}
	u := &unstructured.Unstructured{Object: obj}
	if u.GetAPIVersion() == "" {
		u.SetAPIVersion(res.gvr.GroupVersion().String())
	}
	if u.GetKind() == "" {
		u.SetKind(res.kind)
	}
	switch u.GetName() {
	case "":
		u.SetName(name)
	case name:
	default:
		return nil, fmt.Errorf("the value is named %s, not %s: rename by creating a new object", u.GetName(), name)
	}
	if res.namespaced {
		switch u.GetNamespace() {
		case "":
			u.SetNamespace(ns)
		case ns:
		default:
			return nil, fmt.Errorf("the value is in namespace %s, not %s", u.GetNamespace(), ns)
		}
	}
	return u, nil
}

// hasPlaceholders reports whether a Secret's data or stringData holds a
// value redactSecret made.
func hasPlaceholders(obj map[string]any) bool {
	for _, field := range []string{"data", "stringData"} {
		values, _ := obj[field].(map[string]any)
		for _, v := range values {
			if s, ok := v.(string); ok && strings.HasPrefix(s, "<redacted: ") {
				return true
			}
		}
	}
	return false
}

// Remove deletes the object at path (a namespace, an object), its
// dependents in the background, as kubectl delete does.
func (fs *FS) Remove(ctx context.Context, path string) error {
	l, err := parse(fs.mount, path)
	if err != nil {
		return err
	}
	if l.level == atContainer {
		return tree.NotSupported("remove", path)
	}
	c, res, rc, name, err := fs.target(ctx, l)
	if errors.Is(err, errNotObject) {
		return tree.NotSupported("remove", path)
	}
	if err != nil {
		return err
	}
	if !res.delete {
		return tree.NotSupported("remove", path)
	}
	rctx, cancel := bounded(ctx)
	defer cancel()
	background := metav1.DeletePropagationBackground
	if err := rc.Delete(rctx, name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		return apiError(path, c.server, err)
	}
	return nil
}
