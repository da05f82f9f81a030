// Package objects maps one version of an app onto Kubernetes objects, as
// server-side apply configurations: each colocation group a Deployment
// and a headless Service (how the version's replicas find each other),
// the app's pilotage.toml a ConfigMap, each listener a Service that
// clients call and that selects the live version's pods, and per app a
// ServiceAccount whose Role reads EndpointSlices, and, for an app that
// coordinates without a store of its own, an etcd StatefulSet (store.go).
// The same objects are applied by "pilotage deploy" and written out as a
// Helm chart.
package objects

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/supervisor"
	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/envelope"
)

// A Version is one build and configuration of an app, to be laid out.
type Version struct {
	App       string
	Namespace string
	Version   string // the version id: also the runtime's deployment id
	Image     string // by digest
	Plan      *supervisor.Plan
	// Config is the text of pilotage.toml, "" if the app has none.
	Config string
	// Coordination is the app's coordination store, nil if it uses none.
	Coordination *envelope.Coordination
	// Kube is the [kube] section: the pods' resources and autoscaling.
	Kube config.Kube
	// Telemetry is the [telemetry] section: each pod's envelope serves
	// its replica's metrics and exports its spans.
	Telemetry config.Telemetry
}

// DefaultListenerPort is the port of a listener whose configured address
// has none.
const DefaultListenerPort = 8080

// GracePeriod, in seconds, is the pods' termination grace period: the envelope's
// drain delay and the runtime's stop, with room to spare.
const GracePeriod = 30

// Set holds the objects of one version.
type Set struct {
	ConfigMap   *coreac.ConfigMapApplyConfiguration // nil without config
	Services    []*coreac.ServiceApplyConfiguration // one headless Service per group
	Deployments []*appsac.DeploymentApplyConfiguration
	Autoscalers []*autoscalingac.HorizontalPodAutoscalerApplyConfiguration
}

// ListenerPorts returns each listener's port: the port of its configured
// address, or DefaultListenerPort.
func ListenerPorts(p *supervisor.Plan) (map[string]int32, error) {
	ports := map[string]int32{}
	for _, l := range slices.Sorted(maps.Keys(p.Listeners)) {
		port := int32(DefaultListenerPort)
		if addr := p.Listeners[l]; addr != "" {
			_, ps, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("listener %s: address %q: %w", l, addr, err)
			}
			if n, err := strconv.Atoi(ps); err == nil && n > 0 {
				port = int32(n)
			}
		}
		for other, op := range ports {
			if op == port {
				return nil, fmt.Errorf("listeners %s and %s both use port %d: give them different ports in [listeners]", other, l, port)
			}
		}
		if port == layout.RPCPort || port == layout.HealthPort {
			return nil, fmt.Errorf("listener %s: port %d is the runtime's own in a pod: pick another", l, port)
		}
		ports[l] = port
	}
	return ports, nil
}

// Build returns the objects of v.
func Build(v Version) (*Set, error) {
	ports, err := ListenerPorts(v.Plan)
	if err != nil {
		return nil, err
	}
	services := map[string]string{} // component -> its group's Service
	names := map[string]string{}    // object name -> group, to refuse two groups with one name
	for _, n := range v.Plan.Nodes {
		if n.IsUnit() {
			continue
		}
		svc := layout.GroupService(v.App, v.Version, n.Name)
		if other, dup := names[svc]; dup {
			return nil, fmt.Errorf("groups %s and %s would both be named %s on Kubernetes: rename a component or colocate them", other, n.Name, svc)
		}
		names[svc] = n.Name
		for _, c := range n.Components {
			services[c] = svc
		}
	}
	res, err := resources(v.Kube)
	if err != nil {
		return nil, err
	}
	scaled, err := autoscaled(v.Plan, v.Kube.Autoscale)
	if err != nil {
		return nil, err
	}
	set := &Set{}
	if v.Config != "" {
		set.ConfigMap = coreac.ConfigMap(layout.ConfigMap(v.App, v.Version), v.Namespace).
			WithLabels(versionLabels(v.App, v.Version)).
			WithData(map[string]string{layout.ConfigFile: v.Config})
	}
	for _, n := range v.Plan.Nodes {
		if n.IsUnit() {
			continue
		}
		s := layout.Settings{App: v.App, Version: v.Version, Group: n.Name, Components: n.Components, Services: services, Config: v.Config != "", Coordination: v.Coordination, Telemetry: v.Telemetry}
		for _, d := range n.Deps {
			if dn := v.Plan.Node(d); dn != nil && !dn.IsUnit() {
				s.Needs = append(s.Needs, layout.GroupService(v.App, v.Version, d))
			}
		}
		for _, l := range n.Listeners {
			if s.Listeners == nil {
				s.Listeners = map[string]string{}
			}
			s.Listeners[l] = fmt.Sprintf(":%d", ports[l])
		}
		set.Services = append(set.Services, groupService(v, n))
		set.Deployments = append(set.Deployments, deployment(v, n, s, ports, res))
		if a, ok := scaled[n.Name]; ok {
			set.Autoscalers = append(set.Autoscalers, autoscaler(v, n.Name, a))
		}
	}
	return set, nil
}

// autoscaled maps each group [kube.autoscale] names a component of to
// its settings.
func autoscaled(p *supervisor.Plan, sections map[string]config.Autoscale) (map[string]config.Autoscale, error) {
	out := map[string]config.Autoscale{}
	by := map[string]string{} // group -> the section that set it
	for _, name := range slices.Sorted(maps.Keys(sections)) {
		n, err := p.NodeOf(name)
		if err != nil || n.IsUnit() {
			return nil, fmt.Errorf("[kube.autoscale.%q]: %w", name, cmp.Or(err, errors.New("a unit is not deployed")))
		}
		if other, dup := by[n.Name]; dup && sections[other] != sections[name] {
			return nil, fmt.Errorf("[kube.autoscale.%q] and [kube.autoscale.%q] scale one group (%s) differently: keep one", other, name, n.Name)
		}
		by[n.Name], out[n.Name] = name, sections[name]
	}
	return out, nil
}

// versionLabels are the labels of every object of one version.
func versionLabels(app, version string) map[string]string {
	return map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: app, layout.LabelVersion: version}
}

// podLabels select the pods of one group of one version.
func podLabels(app, version, group string) map[string]string {
	return map[string]string{layout.LabelApp: app, layout.LabelVersion: version, layout.LabelGroup: layout.Name(group)}
}

func groupService(v Version, n *supervisor.Node) *coreac.ServiceApplyConfiguration {
	labels := versionLabels(v.App, v.Version)
	labels[layout.LabelGroup] = layout.Name(n.Name)
	labels[layout.LabelRole] = layout.RoleGroup
	labels[layout.LabelStopped] = "false"
	return coreac.Service(layout.GroupService(v.App, v.Version, n.Name), v.Namespace).
		WithLabels(labels).
		WithSpec(coreac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithSelector(podLabels(v.App, v.Version, n.Name)).
			WithPorts(coreac.ServicePort().WithName("rpc").WithPort(layout.RPCPort).WithTargetPort(intstr.FromInt32(layout.RPCPort))))
}

func deployment(v Version, n *supervisor.Node, s layout.Settings, ports map[string]int32, res *coreac.ResourceRequirementsApplyConfiguration) *appsac.DeploymentApplyConfiguration {
	annotations := map[string]string{
		layout.AnnotationReplicas:   strconv.Itoa(n.Replicas),
		layout.AnnotationComponents: strings.Join(n.Components, ","),
	}
	if len(n.Listeners) > 0 {
		var ls []string
		for _, l := range n.Listeners {
			ls = append(ls, fmt.Sprintf("%s=%d", l, ports[l]))
		}
		annotations[layout.AnnotationListeners] = strings.Join(ls, ",")
	}
	labels := versionLabels(v.App, v.Version)
	labels[layout.LabelGroup] = layout.Name(n.Name)
	pod := podLabels(v.App, v.Version, n.Name)
	fromField := func(name, path string) *coreac.EnvVarApplyConfiguration {
		return coreac.EnvVar().WithName(name).WithValueFrom(coreac.EnvVarSource().WithFieldRef(coreac.ObjectFieldSelector().WithFieldPath(path)))
	}
	c := coreac.Container().
		WithName("app").
		WithImage(v.Image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithEnv(
			coreac.EnvVar().WithName(layout.SettingsEnv).WithValue(s.Encode()),
			fromField(layout.PodNameEnv, "metadata.name"),
			fromField(layout.PodNamespaceEnv, "metadata.namespace"),
			fromField(layout.PodIPEnv, "status.podIP"),
		).
		WithPorts(
			coreac.ContainerPort().WithName("rpc").WithContainerPort(layout.RPCPort),
			coreac.ContainerPort().WithName("health").WithContainerPort(layout.HealthPort),
		).
		WithReadinessProbe(probe("/readyz", 1, 1)).
		WithLivenessProbe(probe("/healthz", 5, 3))
	if res != nil {
		c.WithResources(res)
	}
	for _, l := range slices.Sorted(maps.Keys(s.Listeners)) {
		c.WithPorts(coreac.ContainerPort().WithContainerPort(ports[l]))
	}
	spec := coreac.PodSpec().
		WithServiceAccountName(layout.ServiceAccount(v.App)).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(GracePeriod)
	if s.Config {
		c.WithVolumeMounts(coreac.VolumeMount().WithName("config").WithMountPath(layout.ConfigDir).WithReadOnly(true))
		spec.WithVolumes(coreac.Volume().WithName("config").WithConfigMap(coreac.ConfigMapVolumeSource().WithName(layout.ConfigMap(v.App, v.Version))))
	}
	// Last: WithContainers copies c.
	spec.WithContainers(c)
	template := coreac.PodTemplateSpec().WithLabels(pod).WithSpec(spec)
	if v.Telemetry.MetricsOn() {
		// The annotations Prometheus' usual Kubernetes scrape config reads.
		template.WithAnnotations(map[string]string{
			"prometheus.io/scrape": "true",
			"prometheus.io/port":   strconv.Itoa(layout.HealthPort),
			"prometheus.io/path":   layout.MetricsPath,
		})
	}
	return appsac.Deployment(layout.GroupDeployment(v.App, v.Version, n.Name), v.Namespace).
		WithLabels(labels).
		WithAnnotations(annotations).
		WithSpec(appsac.DeploymentSpec().
			WithReplicas(int32(n.Replicas)).
			WithSelector(metaac.LabelSelector().WithMatchLabels(pod)).
			WithStrategy(appsac.DeploymentStrategy().WithType(appsv1.RollingUpdateDeploymentStrategyType).
				WithRollingUpdate(appsac.RollingUpdateDeployment().WithMaxUnavailable(intstr.FromInt32(0)).WithMaxSurge(intstr.FromInt32(1)))).
			WithTemplate(template))
}

func probe(path string, period, failures int32) *coreac.ProbeApplyConfiguration {
	return coreac.Probe().
		WithHTTPGet(coreac.HTTPGetAction().WithPath(path).WithPort(intstr.FromInt32(layout.HealthPort))).
		WithPeriodSeconds(period).
		WithFailureThreshold(failures).
		WithTimeoutSeconds(2)
}

// A Binding is a listener served by the pods of one group of one
// version.
type Binding struct {
	Listener string
	Port     int32
	Pods     map[string]string // the labels of the group's pods
}

// Bindings returns the listeners of version of the plan's app.
func Bindings(app, version string, p *supervisor.Plan) ([]Binding, error) {
	ports, err := ListenerPorts(p)
	if err != nil {
		return nil, err
	}
	var out []Binding
	for _, n := range p.Nodes {
		for _, l := range n.Listeners {
			out = append(out, Binding{Listener: l, Port: ports[l], Pods: podLabels(app, version, n.Name)})
		}
	}
	return out, nil
}

// DeployedBindings returns the listeners of the version whose group
// Deployments are deps, from their annotations.
func DeployedBindings(deps []appsv1.Deployment) ([]Binding, error) {
	var out []Binding
	for _, d := range deps {
		list := d.Annotations[layout.AnnotationListeners]
		if list == "" {
			continue
		}
		for _, lp := range strings.Split(list, ",") {
			l, ps, _ := strings.Cut(lp, "=")
			port, err := strconv.Atoi(ps)
			if err != nil || d.Spec.Selector == nil {
				return nil, fmt.Errorf("deployment %s: annotation %s: bad listener %q", d.Name, layout.AnnotationListeners, lp)
			}
			out = append(out, Binding{Listener: l, Port: int32(port), Pods: d.Spec.Selector.MatchLabels})
		}
	}
	return out, nil
}

// Listeners returns the Services clients reach the listeners by, each
// selecting the pods of version (the live one) that serve it.
func Listeners(app, namespace, version string, bs []Binding) []*coreac.ServiceApplyConfiguration {
	var out []*coreac.ServiceApplyConfiguration
	for _, b := range bs {
		labels := map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: app, layout.LabelRole: layout.RoleListener}
		out = append(out, coreac.Service(layout.ListenerService(app, b.Listener), namespace).
			WithLabels(labels).
			WithAnnotations(map[string]string{layout.AnnotationLive: version}).
			WithSpec(coreac.ServiceSpec().
				WithSelector(b.Pods).
				WithPorts(coreac.ServicePort().WithName("http").WithPort(b.Port).WithTargetPort(intstr.FromInt32(b.Port)))))
	}
	return out
}

// Access returns the ServiceAccount of app's pods and the Role and
// RoleBinding that let it read EndpointSlices in its namespace: all the
// envelope needs.
func Access(app, namespace string) (*coreac.ServiceAccountApplyConfiguration, *rbacac.RoleApplyConfiguration, *rbacac.RoleBindingApplyConfiguration) {
	name := layout.ServiceAccount(app)
	labels := map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: app}
	sa := coreac.ServiceAccount(name, namespace).WithLabels(labels)
	role := rbacac.Role(name, namespace).WithLabels(labels).
		WithRules(rbacac.PolicyRule().WithAPIGroups("discovery.k8s.io").WithResources("endpointslices").WithVerbs("get", "list", "watch"))
	binding := rbacac.RoleBinding(name, namespace).WithLabels(labels).
		WithRoleRef(rbacac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(name)).
		WithSubjects(rbacac.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(namespace))
	return sa, role, binding
}
