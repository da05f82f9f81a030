package objects

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	autoscalingac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/internal/config"
)

// resources returns what each app pod requests ([kube] cpu and memory;
// memory is also the limit), nil for nothing.
func resources(k config.Kube) (*coreac.ResourceRequirementsApplyConfiguration, error) {
	if k.CPU == "" && k.Memory == "" {
		return nil, nil
	}
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	if k.CPU != "" {
		q, err := resource.ParseQuantity(k.CPU)
		if err != nil {
			return nil, fmt.Errorf("[kube] cpu = %q: %w", k.CPU, err)
		}
		requests[corev1.ResourceCPU] = q
	}
	if k.Memory != "" {
		q, err := resource.ParseQuantity(k.Memory)
		if err != nil {
			return nil, fmt.Errorf("[kube] memory = %q: %w", k.Memory, err)
		}
		requests[corev1.ResourceMemory], limits[corev1.ResourceMemory] = q, q
	}
	r := coreac.ResourceRequirements().WithRequests(requests)
	if len(limits) > 0 {
		r.WithLimits(limits)
	}
	return r, nil
}

// autoscaler returns the HorizontalPodAutoscaler of one group's
// Deployment of v. It belongs to the version: while the version is
// retired or the group stopped (zero replicas), Kubernetes does not
// scale it.
func autoscaler(v Version, group string, a config.Autoscale) *autoscalingac.HorizontalPodAutoscalerApplyConfiguration {
	lo, hi, pct := a.Scale()
	labels := versionLabels(v.App, v.Version)
	labels[layout.LabelGroup] = layout.Name(group)
	name := layout.GroupDeployment(v.App, v.Version, group)
	return autoscalingac.HorizontalPodAutoscaler(name, v.Namespace).
		WithLabels(labels).
		WithSpec(autoscalingac.HorizontalPodAutoscalerSpec().
			WithScaleTargetRef(autoscalingac.CrossVersionObjectReference().WithAPIVersion("apps/v1").WithKind("Deployment").WithName(name)).
			WithMinReplicas(int32(lo)).
			WithMaxReplicas(int32(hi)).
			WithMetrics(autoscalingac.MetricSpec().
				WithType(autoscalingv2.ResourceMetricSourceType).
				WithResource(autoscalingac.ResourceMetricSource().
					WithName(corev1.ResourceCPU).
					WithTarget(autoscalingac.MetricTarget().WithType(autoscalingv2.UtilizationMetricType).WithAverageUtilization(int32(pct))))))
}
