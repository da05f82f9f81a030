package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/objects"
)

// state is what the cluster records about an app's versions, in the
// ConfigMap layout.State names.
type state struct {
	Live     string // the version the listeners route to; "" before the first deploy
	Previous string // the one live before it
	// Canary is a version that gets Share percent of the listeners'
	// traffic beside Live, until promoted or aborted; "" for none.
	Canary string
	Share  int
	// resourceVersion of the ConfigMap read, "" if there was none: a
	// write succeeds only if it is still the current one.
	resourceVersion string
}

const (
	stateLive     = "live"
	statePrevious = "previous"
	stateCanary   = "canary"
	stateShare    = "canary-share"
)

func (c *Cluster) readState(ctx context.Context, app string) (state, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Get(ctx, layout.State(app), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read %s's state: %w", app, explain(err))
	}
	return stateOf(cm), nil
}

// stateOf returns the state cm records.
func stateOf(cm *corev1.ConfigMap) state {
	share, _ := strconv.Atoi(cm.Data[stateShare])
	return state{Live: cm.Data[stateLive], Previous: cm.Data[statePrevious], Canary: cm.Data[stateCanary], Share: share, resourceVersion: cm.ResourceVersion}
}

// A Deployed is an app with a live version in a namespace, as its state
// records it.
type Deployed struct {
	App      string
	Live     string
	Previous string // "" if none
	Canary   string // "" if none
	Share    int    // the canary's percent of the listeners' traffic
	// Since is when the app was first deployed there (its state was
	// recorded).
	Since time.Time
}

// Apps returns the apps deployed in the cluster's namespace, by name:
// those whose state names a live version.
func (c *Cluster) Apps(ctx context.Context) ([]Deployed, error) {
	list, err := c.Client.CoreV1().ConfigMaps(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: layout.LabelManagedBy + "=" + layout.ManagedBy + "," + layout.LabelApp})
	if err != nil {
		return nil, fmt.Errorf("list the apps deployed in namespace %s: %w", c.Namespace, explain(err))
	}
	var out []Deployed
	for i := range list.Items {
		cm := &list.Items[i]
		app := cm.Labels[layout.LabelApp]
		if cm.Name != layout.State(app) {
			continue // a version's config
		}
		st := stateOf(cm)
		if st.Live == "" {
			continue
		}
		out = append(out, Deployed{App: app, Live: st.Live, Previous: st.Previous, Canary: st.Canary, Share: st.Share, Since: cm.CreationTimestamp.Time})
	}
	slices.SortFunc(out, func(a, b Deployed) int { return strings.Compare(a.App, b.App) })
	return out, nil
}

// connectDeployed connects to the target and returns the state of app,
// which must have a live version there: what every command on a
// deployed app starts with.
func connectDeployed(ctx context.Context, t Target, app string) (*Cluster, state, error) {
	c, err := Connect(t)
	if err != nil {
		return nil, state{}, err
	}
	st, err := c.deployedState(ctx, app)
	if err != nil {
		return nil, st, err
	}
	return c, st, nil
}

// deployedState returns the state of app, which must have a live
// version.
func (c *Cluster) deployedState(ctx context.Context, app string) (state, error) {
	st, err := c.readState(ctx, app)
	if err != nil {
		return st, err
	}
	if st.Live == "" {
		return st, fmt.Errorf("%s is not deployed in namespace %s of %s", app, c.Namespace, c.Host)
	}
	return st, nil
}

// writeState records st, if the state is still the one st was read from:
// of two commands on one app at once (two deploys, a deploy and a
// rollback), the second to write fails, and records nothing, instead of
// undoing what the first recorded.
func (c *Cluster) writeState(ctx context.Context, app string, st *state) error {
	labels := map[string]string{layout.LabelManagedBy: layout.ManagedBy, layout.LabelApp: app}
	data := map[string]string{stateLive: st.Live, statePrevious: st.Previous, stateCanary: st.Canary, stateShare: strconv.Itoa(st.Share)}
	cms := c.Client.CoreV1().ConfigMaps(c.Namespace)
	var err error
	var cm *corev1.ConfigMap
	if st.resourceVersion == "" {
		cm, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: layout.State(app), Labels: labels}, Data: data}, metav1.CreateOptions{FieldManager: layout.FieldManager})
	} else {
		cm, err = cms.Apply(ctx, coreac.ConfigMap(layout.State(app), c.Namespace).WithLabels(labels).WithData(data).WithResourceVersion(st.resourceVersion), applyOptions)
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		return fmt.Errorf("record %s's versions: another command changed them while this one ran (a deploy, rollback, promote or abort of %s at the same time?): nothing recorded; see pilotage status --kube %s, and run this again", app, app, app)
	case err != nil:
		return fmt.Errorf("record %s's versions: %w", app, explain(err))
	}
	st.resourceVersion = cm.ResourceVersion
	return nil
}

// switchTo points every listener Service at version's pods (each
// Service's selector changes in one write, so new connections go to the
// new version at once), removes the listener Services version does not
// serve, and records version as live.
//
// The state is recorded first: it fails if another command changed it
// meanwhile, before anything is switched. A switch that fails after it is
// finished by running the command again.
func (c *Cluster) switchTo(ctx context.Context, app, version string, bs []objects.Binding, st state) error {
	if st.Live != version {
		st.Previous, st.Live = st.Live, version
	}
	if err := c.writeState(ctx, app, &st); err != nil {
		return err
	}
	return c.applyListeners(ctx, app, version, bs)
}

// switchAndRetire switches the listeners to version (its bindings bs),
// waits until they route to its pods, and retires the version st has
// live, if another: scaled to zero, kept for a rollback.
func (c *Cluster) switchAndRetire(ctx context.Context, app, version string, bs []objects.Binding, st state, out io.Writer) error {
	if err := c.switchListeners(ctx, app, version, bs, st, out); err != nil {
		return err
	}
	return c.retireReplaced(ctx, app, st.Live, version, out)
}

// switchListeners switches the listeners to version (its bindings bs)
// and waits until they route to its pods.
func (c *Cluster) switchListeners(ctx context.Context, app, version string, bs []objects.Binding, st state, out io.Writer) error {
	t := time.Now()
	if err := c.switchTo(ctx, app, version, bs, st); err != nil {
		return err
	}
	if err := c.waitRouted(ctx, app, "version "+version, bs); err != nil {
		return fmt.Errorf("%w (the listeners select version %s; version %s still runs)", err, version, st.Live)
	}
	if st.Live == "" || st.Live == version {
		fmt.Fprintf(out, "  live      version %s\n", version)
	} else {
		fmt.Fprintf(out, "  switch    listeners from version %s to %s (%s)\n", st.Live, version, since(t))
	}
	return nil
}

// retireReplaced retires version from, which version replaced as the
// live one ("" or version itself: nothing to do).
func (c *Cluster) retireReplaced(ctx context.Context, app, from, version string, out io.Writer) error {
	if from == "" || from == version {
		return nil
	}
	if err := c.retire(ctx, app, from); err != nil {
		return fmt.Errorf("%w (version %s is live; %s still runs)", err, version, from)
	}
	fmt.Fprintf(out, "  retire    version %s (its pods drain; pilotage rollback returns to it)\n", from)
	return nil
}

// applyListeners applies the listener Services of bs, and deletes the
// app's other listener Services.
func (c *Cluster) applyListeners(ctx context.Context, app, version string, bs []objects.Binding) error {
	keep := map[string]bool{}
	for _, s := range objects.Listeners(app, c.Namespace, version, bs) {
		if _, err := c.Client.CoreV1().Services(c.Namespace).Apply(ctx, s, applyOptions); err != nil {
			return fmt.Errorf("switch listener service %s to version %s: %w", *s.Name, version, explain(err))
		}
		keep[*s.Name] = true
	}
	sel := labels.SelectorFromSet(labels.Set{layout.LabelApp: app, layout.LabelRole: layout.RoleListener}).String()
	svcs, err := c.Client.CoreV1().Services(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("list listener services: %w", explain(err))
	}
	for _, s := range svcs.Items {
		if !keep[s.Name] {
			if err := c.Client.CoreV1().Services(c.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete listener service %s, which version %s does not serve: %w", s.Name, version, explain(err))
			}
		}
	}
	return nil
}

// pruneVersions deletes every version of app but those in keep: its
// Deployments (whose pods drain as they terminate), group Services and
// ConfigMaps. It returns the versions it removed.
func (c *Cluster) pruneVersions(ctx context.Context, app string, keep ...string) ([]string, error) {
	req, err := labels.NewRequirement(layout.LabelVersion, selection.NotIn, keep)
	if err != nil {
		return nil, err
	}
	exists, _ := labels.NewRequirement(layout.LabelVersion, selection.Exists, nil)
	appReq, _ := labels.NewRequirement(layout.LabelApp, selection.Equals, []string{app})
	sel := labels.NewSelector().Add(*appReq, *exists, *req).String()
	_, versions, err := c.deleteSelected(ctx, sel, versionKinds)
	return versions, err
}

// Kinds an app's objects can be: those of its versions, then those of the
// app itself, deleted last.
var (
	versionKinds = []schema.GroupVersionResource{
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Version: "v1", Resource: "services"},
		{Version: "v1", Resource: "configmaps"},
		{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	}
	appKinds = append(slices.Clone(versionKinds),
		schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"},
		schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"},
		schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
		schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"},
	)
)

// deleteSelected deletes the objects of kinds that sel selects (a
// Deployment's pods drain as they terminate), and returns how many and
// the versions they belonged to.
func (c *Cluster) deleteSelected(ctx context.Context, sel string, kinds []schema.GroupVersionResource) (int, []string, error) {
	dc, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return 0, nil, fmt.Errorf("kubernetes client: %w", err)
	}
	bg := metav1.DeletePropagationBackground
	n := 0
	var versions []string
	for _, k := range kinds {
		ri := dc.Resource(k).Namespace(c.Namespace)
		items, err := ri.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return n, versions, fmt.Errorf("list %s: %w", k.Resource, explain(err))
		}
		for _, o := range items.Items {
			if err := ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
				return n, versions, fmt.Errorf("delete %s %s: %w", k.Resource, o.GetName(), explain(err))
			}
			n++
			if v := o.GetLabels()[layout.LabelVersion]; v != "" && !slices.Contains(versions, v) {
				versions = append(versions, v)
			}
		}
	}
	sort.Strings(versions)
	return n, versions, nil
}

// Delete removes everything app owns in the target namespace, and
// nothing else: every object pilotage labelled with it. It returns how
// many objects it deleted.
func Delete(ctx context.Context, t Target, app string) (int, error) {
	c, err := Connect(t)
	if err != nil {
		return 0, err
	}
	sel := labels.SelectorFromSet(labels.Set{layout.LabelApp: app, layout.LabelManagedBy: layout.ManagedBy}).String()
	n, _, err := c.deleteSelected(ctx, sel, appKinds)
	return n, err
}
