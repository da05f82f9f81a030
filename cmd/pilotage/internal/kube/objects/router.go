package objects

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// RouterReplicas is how many router pods a canary runs: one may be
// rescheduled while the other serves.
const RouterReplicas = 2

// RouterPods are the labels of app's canary router pods: the listener
// Services' selector while a canary runs.
func RouterPods(app string) map[string]string {
	return map[string]string{layout.LabelApp: app, layout.LabelRole: layout.RoleRouter}
}

// Router returns the Deployment of the router that shares the listeners
// of s between its live version and its canary. image holds the
// pilotage binary alone (image.BuildTool).
func Router(namespace, image string, s layout.RouterSettings) *appsac.DeploymentApplyConfiguration {
	labels := RouterPods(s.App)
	labels[layout.LabelManagedBy] = layout.ManagedBy
	probe := func(path string, period, failures int32) *coreac.ProbeApplyConfiguration {
		return coreac.Probe().
			WithHTTPGet(coreac.HTTPGetAction().WithPath(path).WithPort(intstr.FromInt32(layout.HealthPort))).
			WithPeriodSeconds(period).WithFailureThreshold(failures).WithTimeoutSeconds(2)
	}
	c := coreac.Container().
		WithName("router").
		WithImage(image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithCommand(layout.EnvelopePath, layout.RouterCommand).
		WithEnv(coreac.EnvVar().WithName(layout.RouterSettingsEnv).WithValue(s.Encode())).
		WithPorts(coreac.ContainerPort().WithName("health").WithContainerPort(layout.HealthPort)).
		WithReadinessProbe(probe("/readyz", 1, 1)).
		WithLivenessProbe(probe("/healthz", 5, 3))
	for _, l := range slices.Sorted(maps.Keys(s.Listeners)) {
		c.WithPorts(coreac.ContainerPort().WithContainerPort(s.Listeners[l]))
	}
	spec := coreac.PodSpec().
		WithAutomountServiceAccountToken(false). // the router needs no API access
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(GracePeriod).
		WithContainers(c)
	return appsac.Deployment(layout.Router(s.App), namespace).
		WithLabels(labels).
		WithSpec(appsac.DeploymentSpec().
			WithReplicas(RouterReplicas).
			WithSelector(metaac.LabelSelector().WithMatchLabels(RouterPods(s.App))).
			WithTemplate(coreac.PodTemplateSpec().WithLabels(RouterPods(s.App)).WithSpec(spec)))
}

// CanaryBackends returns the Services the router reaches version's
// listeners by: one per listener, selecting the version's pods that
// serve it.
func CanaryBackends(app, namespace, version string, bs []Binding) []*coreac.ServiceApplyConfiguration {
	var out []*coreac.ServiceApplyConfiguration
	for _, b := range bs {
		labels := versionLabels(app, version)
		labels[layout.LabelRole] = layout.RoleCanaryBackend
		out = append(out, coreac.Service(layout.CanaryBackend(app, version, b.Listener), namespace).
			WithLabels(labels).
			WithSpec(coreac.ServiceSpec().
				WithSelector(b.Pods).
				WithPorts(coreac.ServicePort().WithName("http").WithPort(b.Port).WithTargetPort(intstr.FromInt32(b.Port)))))
	}
	return out
}
