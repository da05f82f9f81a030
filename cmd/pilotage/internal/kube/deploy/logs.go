package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
)

// LogQuery selects the log lines of a deployed app.
type LogQuery struct {
	Components []string // the groups that run these; none: every group
	Pods       []string // only these pods of those groups; none: all
	Follow     bool
	Tail       int64 // last lines per pod; 0: all
	Since      time.Time
	Timestamps bool // Logs prints the kubelet's time of each line
}

// A LogLine is one line of one pod, with the time the kubelet gave it.
type LogLine struct {
	Time time.Time
	Pod  string
	Text string
}

// Logs prints the logs of the pods of app's live (and canary) version
// that q selects, as "pod | line", merged in time order; with Follow, it
// then prints new lines as they come until ctx is done. The pods are
// those running when it starts.
func Logs(ctx context.Context, t Target, app string, q LogQuery, w io.Writer) error {
	c, err := Connect(t)
	if err != nil {
		return err
	}
	return c.Logs(ctx, app, q, func(l LogLine) error {
		if q.Timestamps {
			_, err := fmt.Fprintf(w, "%s %s | %s\n", l.Time.Format(time.RFC3339Nano), l.Pod, l.Text)
			return err
		}
		_, err := fmt.Fprintf(w, "%s | %s\n", l.Pod, l.Text)
		return err
	})
}

// Logs calls fn, one call at a time, with the log lines of the pods of
// app's live (and canary) version that q selects (q.Timestamps aside),
// merged in time order; with Follow, then with new lines as they come
// until ctx is done. The pods are those running when it starts. It
// returns fn's first error.
func (c *Cluster) Logs(ctx context.Context, app string, q LogQuery, fn func(LogLine) error) error {
	st, err := c.deployedState(ctx, app)
	if err != nil {
		return err
	}
	var pods []corev1.Pod
	for _, v := range []string{st.Live, st.Canary} {
		if v == "" {
			continue
		}
		deps, err := c.versionDeployments(ctx, app, v)
		if err != nil {
			return err
		}
		for i := range deps {
			if !runsAny(&deps[i], q.Components) {
				continue
			}
			sel := metav1.FormatLabelSelector(deps[i].Spec.Selector)
			list, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return fmt.Errorf("list pods: %w", explain(err))
			}
			for _, p := range list.Items {
				if len(q.Pods) == 0 || slices.Contains(q.Pods, p.Name) {
					pods = append(pods, p)
				}
			}
		}
	}
	if len(pods) == 0 {
		what := strings.Join(q.Components, ", ")
		if len(q.Pods) > 0 {
			what = "pod " + strings.Join(q.Pods, ", ")
		}
		return fmt.Errorf("%s version %s: no pod runs %s", app, st.Live, what)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // fn failed: the other streams end
	// Each pod's stream, read at once; lines up to now are merged by
	// time, then (Follow) passed on as they come.
	opts := corev1.PodLogOptions{Container: "app", Follow: q.Follow, Timestamps: true}
	if q.Tail > 0 {
		opts.TailLines = &q.Tail
	}
	if !q.Since.IsZero() {
		opts.SinceTime = &metav1.Time{Time: q.Since}
	}
	start := time.Now()
	var (
		mu      sync.Mutex
		backlog []LogLine
		live    bool
		fnErr   error
		wg      sync.WaitGroup
		errs    = make(chan error, len(pods))
	)
	emit := func(l LogLine) { // mu held
		if fnErr == nil {
			if fnErr = fn(l); fnErr != nil {
				cancel()
			}
		}
	}
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts
			rc, err := c.Client.CoreV1().Pods(c.Namespace).GetLogs(p.Name, &o).Stream(ctx)
			if err != nil {
				if ctx.Err() == nil {
					errs <- fmt.Errorf("logs of pod %s: %w", p.Name, explain(err))
				}
				return
			}
			defer rc.Close()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				ts, text, _ := strings.Cut(sc.Text(), " ")
				l := LogLine{Pod: p.Name, Text: text}
				l.Time, _ = time.Parse(time.RFC3339Nano, ts)
				mu.Lock()
				if live {
					emit(l)
				} else {
					backlog = append(backlog, l)
				}
				mu.Unlock()
			}
		}()
	}
	flush := func() {
		mu.Lock()
		defer mu.Unlock()
		slices.SortStableFunc(backlog, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
		for _, l := range backlog {
			emit(l)
		}
		backlog, live = nil, true
	}
	if q.Follow {
		// The lines written before the start come first, in a burst:
		// a pause lets every pod's arrive before they are merged.
		select {
		case <-time.After(time.Until(start.Add(time.Second))):
		case <-ctx.Done():
		}
		flush()
	}
	wg.Wait()
	flush()
	close(errs)
	if fnErr != nil {
		return fnErr
	}
	return <-errs // nil if none
}

// runsAny says whether d's group runs one of components (all if none),
// each named as matches takes it, or by its package ("catalog").
func runsAny(d *appsv1.Deployment, components []string) bool {
	if len(components) == 0 {
		return true
	}
	for _, full := range strings.Split(d.Annotations[layout.AnnotationComponents], ",") {
		pkg := full[:max(strings.LastIndex(full, "."), 0)]
		for _, c := range components {
			if matches(full, c) || strings.HasSuffix("/"+pkg, "/"+c) {
				return true
			}
		}
	}
	return false
}

// matches says whether component (a full name, or its last elements:
// "cart.Cart", "Cart") names the component full.
func matches(full, component string) bool {
	return full == component || strings.HasSuffix(full, "/"+component) || strings.HasSuffix(full, "."+component)
}
