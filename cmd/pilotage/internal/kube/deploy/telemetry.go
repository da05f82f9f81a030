package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/telemetry"
)

// Each pod of a deployed app keeps its replica's recent traces and its
// metrics (the envelope's telemetry hub), and serves them on its health
// port as the supervisor of "pilotage run" serves the whole app's
// (control.HandleTelemetry). The functions here read every pod's through
// the API server's pods/proxy, as canaryStats does, and merge them: a
// trace crosses pods, each of which kept the spans of its own replica.

// podFetchers bounds the pods read at once.
const podFetchers = 8

// Traces lists the recent traces of app's live (and canary) version that
// q selects, merged across its pods. A pod that does not answer is left
// out, with a line on warn.
func Traces(ctx context.Context, t Target, app string, q control.TraceQuery, warn io.Writer) ([]api.TraceSummary, error) {
	c, pods, err := connectPods(ctx, t, app)
	if err != nil {
		return nil, err
	}
	// Every pod's summaries of all it keeps: whether a trace has an
	// error, and how long it took, is known only once its parts are
	// merged.
	parts, err := fetchSome[[]api.TraceSummary](ctx, c, pods, control.TracesRoute, warn)
	if err != nil {
		return nil, err
	}
	return telemetry.MergeTraces(parts, q), nil
}

// Trace returns the spans the pods of app's live (and canary) version
// kept of the trace with id (or a prefix of it of at least 8 hex digits
// naming one trace), in start order.
func Trace(ctx context.Context, t Target, app, id string, warn io.Writer) (*api.Trace, error) {
	if id == "" || strings.Contains(id, "/") {
		return nil, fmt.Errorf("trace %q: want a trace ID from pilotage traces", id)
	}
	c, pods, err := connectPods(ctx, t, app)
	if err != nil {
		return nil, err
	}
	parts, err := fetchSome[api.Trace](ctx, c, pods, control.TracesRoute+id, warn)
	if err != nil {
		return nil, err
	}
	out := &api.Trace{}
	for _, p := range parts {
		switch {
		case p.TraceID == "":
			continue // not kept by that pod
		case out.TraceID == "":
			out.TraceID = p.TraceID
		case out.TraceID != p.TraceID:
			return nil, fmt.Errorf("%s names more than one trace (%s and %s at least): give more of its digits", id, out.TraceID, p.TraceID)
		}
		out.Spans = append(out.Spans, p.Spans...)
	}
	if out.TraceID == "" {
		return nil, fmt.Errorf("no pod of %s keeps a trace %s (each keeps its replica's most recent ones: see pilotage traces --kube %s)", app, id, app)
	}
	slices.SortStableFunc(out.Spans, func(a, b api.TraceSpan) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// Metrics returns the figures of every component method of app's live
// (and canary) version, summed over its pods, and each pod's process
// figures. A pod that does not answer is left out, with a line on warn.
func (c *Cluster) Metrics(ctx context.Context, app string, warn io.Writer) (*api.Metrics, error) {
	pods, err := c.deployedPods(ctx, app)
	if err != nil {
		return nil, err
	}
	parts, err := fetchSome[api.Metrics](ctx, c, pods, control.MetricsRoute, warn)
	if err != nil {
		return nil, err
	}
	m := telemetry.SumMetrics(parts)
	return &m, nil
}

// connectPods connects to t and returns the running pods of the groups
// of app's live and canary versions there.
func connectPods(ctx context.Context, t Target, app string) (*Cluster, []corev1.Pod, error) {
	c, err := Connect(t)
	if err != nil {
		return nil, nil, err
	}
	pods, err := c.deployedPods(ctx, app)
	return c, pods, err
}

// deployedPods returns the running pods of the groups of app's live and
// canary versions.
func (c *Cluster) deployedPods(ctx context.Context, app string) ([]corev1.Pod, error) {
	st, err := c.deployedState(ctx, app)
	if err != nil {
		return nil, err
	}
	pods, err := c.servingPods(ctx, app, st)
	if err == nil && len(pods) == 0 {
		err = fmt.Errorf("%s version %s: no pod runs", app, strings.Join(servingVersions(st), " and "))
	}
	return pods, err
}

// servingVersions are the live and canary versions of st.
func servingVersions(st state) []string {
	if st.Canary != "" {
		return []string{st.Live, st.Canary}
	}
	return []string{st.Live}
}

// servingPods returns the running pods of the groups of the live and
// canary versions of app, in state st, in name order.
func (c *Cluster) servingPods(ctx context.Context, app string, st state) ([]corev1.Pod, error) {
	versions := servingVersions(st)
	appReq, err := labels.NewRequirement(layout.LabelApp, selection.Equals, []string{app})
	if err != nil {
		return nil, err
	}
	versionReq, err := labels.NewRequirement(layout.LabelVersion, selection.In, versions)
	if err != nil {
		return nil, err
	}
	groupReq, err := labels.NewRequirement(layout.LabelGroup, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	sel := labels.NewSelector().Add(*appReq, *versionReq, *groupReq).String()
	list, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list the pods of %s: %w", app, explain(err))
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

// An answer is what one pod answered.
type answer[T any] struct {
	pod   *corev1.Pod
	value T
}

// fetchAll GETs path from the health port of each pod, a few at once, and
// decodes each answer as a T: it returns those of the pods that answered
// (T's zero value for a pod that answered not found), and the failures
// of the others.
func fetchAll[T any](ctx context.Context, c *Cluster, pods []corev1.Pod, path string) ([]answer[T], []error) {
	out := make([]T, len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	sem := make(chan struct{}, podFetchers)
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			raw, err := c.Client.CoreV1().Pods(c.Namespace).ProxyGet("http", p.Name, strconv.Itoa(layout.HealthPort), path, nil).DoRaw(ctx)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs[i] = fmt.Errorf("pod %s: %w", p.Name, explain(err))
			default:
				if err := json.Unmarshal(raw, &out[i]); err != nil {
					errs[i] = fmt.Errorf("pod %s: its answer to %s: %w", p.Name, path, err)
				}
			}
		}()
	}
	wg.Wait()
	var ok []answer[T]
	var failed []error
	for i := range pods {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			continue
		}
		ok = append(ok, answer[T]{&pods[i], out[i]})
	}
	return ok, failed
}

// fetchSome is fetchAll for a command that shows what it got: each pod
// left out is a line on warn, and it fails only if no pod answered.
func fetchSome[T any](ctx context.Context, c *Cluster, pods []corev1.Pod, path string, warn io.Writer) ([]T, error) {
	ok, failed := fetchAll[T](ctx, c, pods, path)
	if len(ok) == 0 && len(failed) > 0 {
		return nil, fmt.Errorf("no pod answered: %w", errors.Join(failed...))
	}
	for _, err := range failed {
		fmt.Fprintf(warn, "pilotage: left out: %v\n", err)
	}
	values := make([]T, len(ok))
	for i, a := range ok {
		values[i] = a.value
	}
	return values, nil
}
