package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
)

// pollInterval is how often a wait looks at the cluster.
const pollInterval = 200 * time.Millisecond

// fatalReasons are container waiting reasons that will not resolve by
// waiting: the deploy stops and says why.
var fatalReasons = []string{"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

// versionSelector selects the objects of one version of app.
func versionSelector(app, version string) string {
	return labels.SelectorFromSet(labels.Set{layout.LabelApp: app, layout.LabelVersion: version}).String()
}

// groupProgress is one Deployment's readiness.
type groupProgress struct {
	name         string
	ready, total int32
}

func (g groupProgress) done() bool { return g.total > 0 && g.ready == g.total }

// waitReady waits until each of the groups Deployments sel selects (of
// one version: what names it) has all its replicas updated and ready,
// and no other pod, printing each change to out. It fails at once on a
// pod that cannot start (a crash loop, an image that cannot be pulled),
// with its last log lines, and at the deadline with what is not ready
// and why. It watches the Deployments, so it ends as soon as the last
// one is ready; without permission to watch, it polls them.
func (c *Cluster) waitReady(ctx context.Context, sel, what string, groups int, out io.Writer) error {
	deployments := c.Client.AppsV1().Deployments(c.Namespace)
	checkPods := time.NewTicker(pollInterval)
	defer checkPods.Stop()
	last := ""
	for {
		list, err := deployments.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return fmt.Errorf("list deployments: %w", explain(err))
		}
		byName := map[string]appsv1.Deployment{}
		for _, d := range list.Items {
			byName[d.Name] = d
		}
		var events <-chan watch.Event
		w, err := deployments.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
		if err == nil {
			events = w.ResultChan()
		}
		relist, err := func() (bool, error) {
			if w != nil {
				defer w.Stop()
			}
			for {
				progress := deploymentProgress(slices.Collect(maps.Values(byName)))
				if line := progressLine(progress); line != last {
					fmt.Fprintf(out, "  wait      %s\n", line)
					last = line
				}
				if len(progress) == groups && !slices.ContainsFunc(progress, func(g groupProgress) bool { return !g.done() }) {
					return false, nil
				}
				select {
				case <-ctx.Done():
					return false, c.notReady(sel, what, progress, context.Cause(ctx))
				case <-checkPods.C:
					if err := c.checkPods(ctx, sel); err != nil {
						return false, err
					}
					if events == nil {
						return true, nil // polling
					}
				case ev, ok := <-events:
					d, isDeployment := ev.Object.(*appsv1.Deployment)
					switch {
					case !ok || !isDeployment: // the watch ended or failed (its version is gone)
						return true, nil
					case ev.Type == watch.Deleted:
						delete(byName, d.Name)
					default:
						byName[d.Name] = *d
					}
				}
			}
		}()
		if !relist {
			return err
		}
	}
}

func deploymentProgress(items []appsv1.Deployment) []groupProgress {
	var out []groupProgress
	for _, d := range items {
		total := int32(1)
		if d.Spec.Replicas != nil {
			total = *d.Spec.Replicas
		}
		// Ready and of the current template: a rolling restart is
		// done when the old pods are gone.
		ready := min(d.Status.ReadyReplicas, d.Status.UpdatedReplicas)
		if d.Status.ObservedGeneration < d.Generation || d.Status.Replicas > total {
			ready = max(0, min(ready, total-1))
		}
		out = append(out, groupProgress{name: d.Labels[layout.LabelGroup], ready: ready, total: total})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func progressLine(p []groupProgress) string {
	var parts []string
	done := 0
	for _, g := range p {
		parts = append(parts, fmt.Sprintf("%s %d/%d", g.name, g.ready, g.total))
		if g.done() {
			done++
		}
	}
	return fmt.Sprintf("%d/%d groups ready: %s", done, len(p), strings.Join(parts, ", "))
}

// checkPods returns an error for the first pod of the version that
// cannot start.
func (c *Cluster) checkPods(ctx context.Context, sel string) error {
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("list pods: %w", explain(err))
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			w := cs.State.Waiting
			if w == nil || !slices.Contains(fatalReasons, w.Reason) {
				continue
			}
			msg := fmt.Sprintf("pod %s: %s", p.Name, w.Reason)
			if g := p.Labels[layout.LabelGroup]; g != "" {
				msg = fmt.Sprintf("pod %s (group %s): %s", p.Name, g, w.Reason)
			}
			if w.Message != "" {
				msg += ": " + w.Message
			}
			if w.Reason == "CrashLoopBackOff" {
				if t := cs.LastTerminationState.Terminated; t != nil {
					msg += fmt.Sprintf(" (last exit: status %d, %s)", t.ExitCode, t.Reason)
				}
				if logs := c.lastLogs(ctx, p.Name, cs.Name, true); logs != "" {
					msg += "\nits last log lines:\n" + logs
				}
			}
			return errors.New(msg)
		}
	}
	return nil
}

// lastLogs returns the last lines a pod's container wrote (the previous
// instance's if previous), indented, or "" if there are none.
func (c *Cluster) lastLogs(ctx context.Context, pod, container string, previous bool) string {
	tail := int64(15)
	b, err := c.Client.CoreV1().Pods(c.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous, TailLines: &tail}).DoRaw(ctx)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n    ")
}

// notReady is the error of a wait that ran out: each group not ready,
// with its pods' state and their latest warning events.
func (c *Cluster) notReady(sel, what string, progress []groupProgress, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not ready (%v):", what, cause)
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("%s (and its pods cannot be listed: %w)", b.String(), explain(err))
	}
	for _, g := range progress {
		if g.done() {
			continue
		}
		fmt.Fprintf(&b, "\n  group %s: %d/%d ready", g.name, g.ready, g.total)
		for _, p := range pods.Items {
			if p.Labels[layout.LabelGroup] != g.name {
				continue
			}
			fmt.Fprintf(&b, "\n    pod %s: %s", p.Name, podState(&p))
			for _, e := range c.warnings(ctx, p.Name) {
				fmt.Fprintf(&b, "\n      %s", e)
			}
		}
	}
	return errors.New(b.String())
}

// podState says in a few words why a pod is not ready.
func podState(p *corev1.Pod) string {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return "not scheduled: " + cond.Message
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			return "waiting: " + strings.TrimSpace(cs.State.Waiting.Reason+" "+cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			return fmt.Sprintf("exited with status %d", cs.State.Terminated.ExitCode)
		case !cs.Ready:
			return "running, not ready"
		}
	}
	return string(p.Status.Phase)
}

// warnings returns the latest Warning events of a pod, newest last.
func (c *Cluster) warnings(ctx context.Context, pod string) []string {
	evs, err := c.Client.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod + ",type=Warning"})
	if err != nil {
		return nil
	}
	sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
	var out []string
	for _, e := range evs.Items[max(0, len(evs.Items)-3):] {
		out = append(out, fmt.Sprintf("%s: %s", e.Reason, e.Message))
	}
	return out
}

// routeTimeout bounds the wait for listener endpoints after a switch.
const routeTimeout = 30 * time.Second

// waitRouted waits until the EndpointSlices of every listener Service
// of bs list the ready pods it selects, and only those (what names
// them): the cluster's routing has switched.
func (c *Cluster) waitRouted(ctx context.Context, app, what string, bs []objects.Binding) error {
	for _, b := range bs {
		if err := c.waitEndpoints(ctx, layout.ListenerService(app, b.Listener), b.Pods, what); err != nil {
			return err
		}
	}
	return nil
}

// waitEndpoints waits until the ready endpoints of Service svc are the
// ready pods that pods selects (what names them), and only those.
func (c *Cluster) waitEndpoints(ctx context.Context, svc string, pods map[string]string, what string) error {
	ctx, cancel := context.WithTimeout(ctx, routeTimeout)
	defer cancel()
	for {
		want, err := c.readyIPs(ctx, labels.SelectorFromSet(pods).String())
		if err != nil {
			return err
		}
		have, err := c.endpointIPs(ctx, svc)
		if err != nil {
			return err
		}
		if len(want) > 0 && slices.Equal(want, have) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s: its endpoints %v are not the ready pods of %s %v after %s", svc, have, what, want, routeTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readyIPs returns the sorted IPs of the ready pods sel selects.
func (c *Cluster) readyIPs(ctx context.Context, sel string) ([]string, error) {
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", explain(err))
	}
	var ips []string
	for _, p := range pods.Items {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				ips = append(ips, p.Status.PodIP)
			}
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// endpointIPs returns the sorted addresses of the ready endpoints of
// Service svc.
func (c *Cluster) endpointIPs(ctx context.Context, svc string) ([]string, error) {
	list, err := c.Client.DiscoveryV1().EndpointSlices(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, fmt.Errorf("list endpointslices of %s: %w", svc, explain(err))
	}
	var ips []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			ips = append(ips, ep.Addresses...)
		}
	}
	slices.Sort(ips)
	return ips, nil
}
