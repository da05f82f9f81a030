package objects

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/internal/config"
)

// A StoreSpec is the coordination store the deploy runs for an app.
type StoreSpec struct {
	App, Namespace string
	// Image holds the pilotage binary (image.BuildTool): it changes
	// only with pilotage, so a deploy of a new version of the app leaves
	// the store's pods alone.
	Image    string
	Replicas int
	// Storage is a volume size ("1Gi") or config.EtcdEmptyDir; Class
	// the StorageClass of the volumes ("": the cluster's default).
	Storage, Class string
}

// Store returns the StatefulSet of the app's etcd members and the
// headless Service that names them (its addresses published before they
// are ready, so that members find each other to form the cluster).
// Members start together (a new cluster needs a majority to elect a
// leader) and each keeps its data in a volume of its own, which goes with
// the StatefulSet.
func Store(s StoreSpec) (*appsac.StatefulSetApplyConfiguration, *coreac.ServiceApplyConfiguration, error) {
	name := layout.Store(s.App)
	labels := map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: s.App, layout.LabelRole: layout.RoleStore}
	pods := map[string]string{layout.LabelApp: s.App, layout.LabelRole: layout.RoleStore}
	ports := func() []*coreac.ServicePortApplyConfiguration {
		return []*coreac.ServicePortApplyConfiguration{
			coreac.ServicePort().WithName("client").WithPort(layout.StoreClientPort).WithTargetPort(intstr.FromInt32(layout.StoreClientPort)),
			coreac.ServicePort().WithName("peer").WithPort(layout.StorePeerPort).WithTargetPort(intstr.FromInt32(layout.StorePeerPort)),
		}
	}
	svc := coreac.Service(name, s.Namespace).
		WithLabels(labels).
		WithSpec(coreac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithPublishNotReadyAddresses(true).
			WithSelector(pods).
			WithPorts(ports()...))

	probe := func(path string, period, failures int32) *coreac.ProbeApplyConfiguration {
		return coreac.Probe().
			WithHTTPGet(coreac.HTTPGetAction().WithPath(path).WithPort(intstr.FromInt32(layout.StoreClientPort))).
			WithPeriodSeconds(period).WithFailureThreshold(failures).WithTimeoutSeconds(2)
	}
	settings := layout.StoreSettings{App: s.App, Members: s.Replicas}
	c := coreac.Container().
		WithName("etcd").
		WithImage(s.Image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithCommand(layout.EnvelopePath, layout.StoreCommand).
		WithEnv(
			coreac.EnvVar().WithName(layout.StoreSettingsEnv).WithValue(settings.Encode()),
			coreac.EnvVar().WithName(layout.PodNameEnv).WithValueFrom(coreac.EnvVarSource().WithFieldRef(coreac.ObjectFieldSelector().WithFieldPath("metadata.name"))),
		).
		WithPorts(
			coreac.ContainerPort().WithName("client").WithContainerPort(layout.StoreClientPort),
			coreac.ContainerPort().WithName("peer").WithContainerPort(layout.StorePeerPort),
		).
		WithReadinessProbe(probe("/readyz", 1, 1)).
		WithLivenessProbe(probe("/livez", 5, 3)).
		WithVolumeMounts(coreac.VolumeMount().WithName(layout.StoreVolume).WithMountPath(layout.StoreDataDir))
	spec := coreac.PodSpec().
		WithAutomountServiceAccountToken(false). // etcd needs no API access
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(GracePeriod)
	set := appsac.StatefulSetSpec().
		WithReplicas(int32(s.Replicas)).
		WithServiceName(name).
		WithPodManagementPolicy("Parallel").
		WithSelector(metaac.LabelSelector().WithMatchLabels(pods))
	if s.Storage == config.EtcdEmptyDir {
		spec.WithVolumes(coreac.Volume().WithName(layout.StoreVolume).WithEmptyDir(coreac.EmptyDirVolumeSource()))
	} else {
		size, err := resource.ParseQuantity(s.Storage)
		if err != nil {
			return nil, nil, fmt.Errorf("coordination store: volume size %q: %w", s.Storage, err)
		}
		claim := coreac.PersistentVolumeClaimSpec().
			WithAccessModes(corev1.ReadWriteOnce).
			WithResources(coreac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: size}))
		if s.Class != "" {
			claim.WithStorageClassName(s.Class)
		}
		set.WithVolumeClaimTemplates((&coreac.PersistentVolumeClaimApplyConfiguration{}).WithName(layout.StoreVolume).WithLabels(labels).WithSpec(claim)).
			WithPersistentVolumeClaimRetentionPolicy(appsac.StatefulSetPersistentVolumeClaimRetentionPolicy().
				WithWhenDeleted("Delete").WithWhenScaled("Retain"))
	}
	spec.WithContainers(c) // last: WithContainers copies c
	set.WithTemplate(coreac.PodTemplateSpec().WithLabels(pods).WithSpec(spec))
	return appsac.StatefulSet(name, s.Namespace).WithLabels(labels).WithSpec(set), svc, nil
}
