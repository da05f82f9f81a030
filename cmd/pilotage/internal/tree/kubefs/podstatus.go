package kubefs

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// PodStatus returns what kubectl get pods shows of p: its STATUS (the
// phase, or the reason that matters more: CrashLoopBackOff, Init:0/1,
// Terminating...), how many of its containers are ready, of how many,
// and its restarts. It follows kubectl's printPod.
func PodStatus(p *corev1.Pod) (reason string, ready, total, restarts int) {
	reason = string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	total = len(p.Spec.Containers)
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if restartable(&c) {
			sidecars[c.Name] = true
			total++
		}
	}

	initializing := false
	sidecarRestarts := 0
	for i, c := range p.Status.InitContainerStatuses {
		restarts += int(c.RestartCount)
		if sidecars[c.Name] {
			sidecarRestarts += int(c.RestartCount)
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case sidecars[c.Name] && c.Started != nil && *c.Started:
			if c.Ready {
				ready++
			}
			continue
		case c.State.Terminated != nil:
			t := c.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || condition(p, corev1.PodInitialized) {
		restarts = sidecarRestarts
		hasRunning, errorReason := false, ""
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := p.Status.ContainerStatuses[i]
			restarts += int(c.RestartCount)
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil:
				reason = terminatedReason(c.State.Terminated)
				if c.State.Terminated.ExitCode != 0 {
					errorReason = reason
				}
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" {
			switch {
			case hasRunning && condition(p, corev1.PodReady):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		switch {
		case p.Status.Reason == "NodeLost":
			reason = "Unknown"
		case p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed:
			reason = "Terminating"
		}
	}
	return reason, ready, total, restarts
}

// containerState returns the state of one container as ls shows it:
// Running, or the reason it waits or ended.
func containerState(s *corev1.ContainerStatus) string {
	switch {
	case s == nil:
		return "Waiting"
	case s.State.Waiting != nil && s.State.Waiting.Reason != "":
		return s.State.Waiting.Reason
	case s.State.Waiting != nil:
		return "Waiting"
	case s.State.Terminated != nil:
		return terminatedReason(s.State.Terminated)
	case s.State.Running != nil:
		return "Running"
	}
	return "Unknown"
}

func terminatedReason(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("Signal:%d", t.Signal)
	}
	return fmt.Sprintf("ExitCode:%d", t.ExitCode)
}

// restartable reports whether c is a sidecar: an init container that
// keeps running.
func restartable(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// condition reports whether the condition t of p is true.
func condition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
