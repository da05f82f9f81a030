// Package chart writes one version of an app, the objects "pilotage
// deploy" would apply, as a Helm chart, for teams that deploy through
// GitOps: the same objects, with the namespace, the image and each
// group's replicas as the chart's parameters. The chart holds one
// version; switching versions, blue/green and canaries are the deploy's
// (a chart upgrade replaces the pods in place, as Deployments do).
package chart

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"sigs.k8s.io/yaml"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// Placeholders the objects carry until they become template actions.
const (
	namespaceMark = "__pilotage_namespace__"
	imageMark     = "__pilotage_image__"
	replicasMark  = "__pilotage_replicas__" // + group
)

// Objects are the objects of one version of an app, as "pilotage deploy"
// applies them (apply configurations, or anything that marshals to an
// object's JSON), in the order they are applied.
type Objects struct {
	App, Version, Image string
	List                []any
}

// Write saves o as a chart in dir/<app> and returns that directory.
// Each object's namespace becomes {{ .Release.Namespace }}, the image
// .Values.image and each group's replicas .Values.replicas.<group>.
func Write(dir string, o Objects) (string, error) {
	replicas := map[string]any{}
	c := &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion:  chart.APIVersionV2,
			Name:        o.App,
			Version:     "0.0.0-v" + o.Version, // semver: a pre-release may not be all digits with a leading 0
			AppVersion:  o.Version,
			Description: fmt.Sprintf("%s, version %s, as pilotage deploy lays it out", o.App, o.Version),
			Type:        "application",
		},
		Values: map[string]any{"image": o.Image, "replicas": replicas},
	}
	for i, obj := range o.List {
		m, err := toMap(obj)
		if err != nil {
			return "", err
		}
		name, file, err := template(m, o.Image, replicas)
		if err != nil {
			return "", err
		}
		c.Templates = append(c.Templates, &common.File{Name: fmt.Sprintf("templates/%02d-%s.yaml", i, name), Data: file})
	}
	values, err := yaml.Marshal(c.Values)
	if err != nil {
		return "", fmt.Errorf("chart: %w", err)
	}
	header := fmt.Sprintf("# %s version %s. image: the app's image (by digest); replicas: the pods of\n# each colocation group.\n", o.App, o.Version)
	c.Raw = append(c.Raw, &common.File{Name: chartutil.ValuesfileName, Data: append([]byte(header), values...)})
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("chart: %w", err)
	}
	if err := chartutil.SaveDir(c, dir); err != nil {
		return "", fmt.Errorf("write chart: %w", err)
	}
	return filepath.Join(dir, o.App), nil
}

func toMap(obj any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	return m, nil
}

// template returns the template of one object, and the base of its file
// name ("deployment-shop-1a2b-cart"); a Deployment's replicas go into
// replicas.
func template(m map[string]any, image string, replicas map[string]any) (string, []byte, error) {
	kind, _ := m["kind"].(string)
	meta, _ := m["metadata"].(map[string]any)
	if kind == "" || meta == nil {
		return "", nil, fmt.Errorf("chart: an object without kind or metadata: %v", m)
	}
	name, _ := meta["name"].(string)
	meta["namespace"] = namespaceMark
	if subjects, ok := m["subjects"].([]any); ok { // a RoleBinding's ServiceAccount
		for _, s := range subjects {
			if s, ok := s.(map[string]any); ok && s["kind"] == "ServiceAccount" {
				s["namespace"] = namespaceMark
			}
		}
	}
	if kind == "Deployment" {
		labels, _ := meta["labels"].(map[string]any)
		group, _ := labels[layout.LabelGroup].(string)
		spec, _ := m["spec"].(map[string]any)
		if group == "" || spec == nil {
			return "", nil, fmt.Errorf("chart: deployment %s has no group label or spec", name)
		}
		replicas[group] = spec["replicas"]
		spec["replicas"] = replicasMark + group
		tmpl, _ := spec["template"].(map[string]any)
		podSpec, _ := tmpl["spec"].(map[string]any)
		containers, _ := podSpec["containers"].([]any)
		for _, c := range containers {
			if c, ok := c.(map[string]any); ok && c["image"] == image {
				c["image"] = imageMark
			}
		}
	}
	y, err := yaml.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("chart: %w", err)
	}
	// Text that looks like an action ("{{" in a pilotage.toml) stays text.
	text := strings.ReplaceAll(string(y), "{{", `{{ "{{" }}`)
	text = strings.ReplaceAll(text, namespaceMark, "{{ .Release.Namespace }}")
	text = strings.ReplaceAll(text, imageMark, "{{ .Values.image }}")
	groups := make([]string, 0, len(replicas))
	for g := range replicas {
		groups = append(groups, g)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(groups))) // "a-b" before "a"
	for _, g := range groups {
		text = strings.ReplaceAll(text, replicasMark+g, fmt.Sprintf("{{ index .Values.replicas %q }}", g))
	}
	return strings.ToLower(kind) + "-" + name, []byte(text), nil
}
