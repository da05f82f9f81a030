package kubefs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// logBuffer is how many lines of each container a pod's merged logs
// read ahead.
const logBuffer = 256

// A logSource is one container whose log is read.
type logSource struct {
	container string
	path      string // its node's, for LogLine.Path
}

// Logs calls fn with the log lines of the container at path, or of every
// container of the pod at path (merged by time; following, as they
// come), each with its time from the kubelet's timestamps.
func (fs *FS) Logs(ctx context.Context, path string, opts tree.LogOptions, fn func(tree.LogLine) error) error {
	l, err := parse(fs.mount, path)
	if err != nil {
		return err
	}
	if l.level != atObject && l.level != atContainer {
		return tree.NotSupported("show logs of", path)
	}
	c, p, err := fs.runningPod(ctx, l, "show logs of")
	if err != nil {
		return err
	}
	dir := objectPath(l) + "/" + containersDir
	var sources []logSource
	if l.level == atContainer {
		sources = []logSource{{l.container, path}}
	} else {
		// Init containers that have not started have no log yet.
		started := map[string]bool{}
		for _, s := range p.Status.InitContainerStatuses {
			started[s.Name] = s.State.Waiting == nil
		}
		for _, ic := range p.Spec.InitContainers {
			if started[ic.Name] {
				sources = append(sources, logSource{ic.Name, dir + "/" + url.PathEscape(ic.Name)})
			}
		}
		for _, ct := range p.Spec.Containers {
			sources = append(sources, logSource{ct.Name, dir + "/" + url.PathEscape(ct.Name)})
		}
	}
	err = c.logs(ctx, p, sources, opts, fn)
	if err != nil && ctx.Err() != nil && opts.Follow {
		return nil // following ends with ctx
	}
	return err
}

// runningPod returns the cluster and a fresh GET of l's pod, which must
// be on a node (and l's container, if any, in it) for what to be done.
func (fs *FS) runningPod(ctx context.Context, l loc, what string) (*cluster, *corev1.Pod, error) {
	c, res, err := fs.resolve(ctx, l)
	if err != nil {
		return nil, nil, err
	}
	if !res.is("", "pods") {
		return nil, nil, tree.NotSupported(what, l.path)
	}
	gctx, cancel := bounded(ctx)
	defer cancel()
	p, err := c.core.Pods(l.namespace).Get(gctx, l.name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, apiError(l.path, c.server, err)
	}
	if l.level == atContainer && !hasContainer(p, l.container) {
		return nil, nil, errorf(l.path, tree.ErrNotFound, fmt.Sprintf("pod %s has no container %s", l.name, l.container))
	}
	if p.Spec.NodeName == "" {
		return nil, nil, errorf(l.path, tree.ErrUnavailable,
			fmt.Sprintf("cannot %s pod %s: it is not on a node yet (%s)", what, l.name, p.Status.Phase))
	}
	return c, p, nil
}

// hasContainer reports whether p has a container (init, ephemeral) name.
func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// logs reads the logs of sources of p and calls fn with their lines: one
// source directly, several merged (by time, or as they come when
// following, since a quiet container must not hold the others back).
func (c *cluster) logs(ctx context.Context, p *corev1.Pod, sources []logSource, opts tree.LogOptions, fn func(tree.LogLine) error) error {
	if len(sources) == 1 {
		return c.streamLogs(ctx, p, sources[0], opts, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		errs   = make([]error, len(sources))
		chans  = make([]chan tree.LogLine, len(sources))
		shared = make(chan tree.LogLine, logBuffer)
	)
	for i, s := range sources {
		ch := shared
		if !opts.Follow {
			ch = make(chan tree.LogLine, logBuffer)
			chans[i] = ch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !opts.Follow {
				defer close(ch)
			}
			errs[i] = c.streamLogs(ctx, p, s, opts, func(line tree.LogLine) error {
				select {
				case ch <- line:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
	}
	var err error
	if opts.Follow {
		go func() {
			wg.Wait()
			close(shared)
		}()
		for line := range shared {
			if err = fn(line); err != nil {
				break
			}
		}
	} else {
		err = mergeByTime(chans, fn)
	}
	cancel()
	wg.Wait()
	if err != nil {
		return err
	}
	var failed []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			failed = append(failed, e)
		}
	}
	return errors.Join(failed...)
}

// mergeByTime calls fn with the lines of chans, each in time order,
// oldest first, until all are closed.
func mergeByTime(chans []chan tree.LogLine, fn func(tree.LogLine) error) error {
	heads := make([]*tree.LogLine, len(chans))
	next := func(i int) {
		if line, ok := <-chans[i]; ok {
			heads[i] = &line
		} else {
			heads[i] = nil
		}
	}
	for i := range chans {
		next(i)
	}
	for {
		min := -1
		for i, h := range heads {
			if h != nil && (min < 0 || h.Time.Before(heads[min].Time)) {
				min = i
			}
		}
		if min < 0 {
			return nil
		}
		if err := fn(*heads[min]); err != nil {
			return err
		}
		next(min)
	}
}

// streamLogs calls fn with the lines of one container's log.
func (c *cluster) streamLogs(ctx context.Context, p *corev1.Pod, s logSource, opts tree.LogOptions, fn func(tree.LogLine) error) error {
	po := &corev1.PodLogOptions{Container: s.container, Follow: opts.Follow, Timestamps: true}
	if !opts.Since.IsZero() {
		since := metav1.NewTime(opts.Since)
		po.SinceTime = &since
	}
	if opts.Tail > 0 {
		tail := int64(opts.Tail)
		po.TailLines = &tail
	}
	rc, err := c.core.Pods(p.Namespace).GetLogs(p.Name, po).Stream(ctx)
	if err != nil {
		return apiError(s.path, c.server, err)
	}
	defer rc.Close()
	// A bufio.Reader, not a Scanner: a line longer than a Scanner's
	// buffer would end the log.
	r := bufio.NewReaderSize(rc, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if ferr := fn(parseLogLine(s.path, strings.TrimSuffix(line, "\n"))); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return apiError(s.path, c.server, fmt.Errorf("read log: %w", err))
		}
	}
}

// parseLogLine splits the kubelet's RFC 3339 timestamp off line.
func parseLogLine(path, line string) tree.LogLine {
	ts, text, ok := strings.Cut(line, " ")
	if ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return tree.LogLine{Time: t, Path: path, Text: text}
		}
	}
	return tree.LogLine{Path: path, Text: line}
}
