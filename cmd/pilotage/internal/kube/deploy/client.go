package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Target names a cluster and a namespace. Empty fields take the
// kubeconfig's current context and that context's namespace ("default"
// if it names none).
type Target struct {
	Kubeconfig string // a path; empty: $KUBECONFIG or ~/.kube/config
	Context    string
	Namespace  string
}

// ErrNoKubeconfig is Connect's error when no kubeconfig names a cluster.
var ErrNoKubeconfig = errors.New("no kubeconfig: set $KUBECONFIG, or pass --kubeconfig, to name the cluster to deploy to")

// A Cluster is a connection to the target cluster.
type Cluster struct {
	Client    kubernetes.Interface
	Config    *rest.Config
	Context   string // the context in use
	Namespace string
	Host      string
}

// Connect loads the kubeconfig, and checks that the cluster answers.
func Connect(t Target) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if t.Kubeconfig != "" {
		rules.ExplicitPath = t.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: t.Context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, ErrNoKubeconfig
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns := t.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
	}
	name := t.Context
	if name == "" {
		name = raw.CurrentContext
	}
	cfg.UserAgent = "pilotage"
	// A version's objects are applied at once, and waits poll: client-go's
	// default of 5 requests a second would throttle both.
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c := &Cluster{Client: cs, Config: cfg, Context: name, Namespace: ns, Host: cfg.Host}
	// The version endpoint answers every client: a failure here is the
	// network or the credentials, not a permission.
	probe := *cfg
	probe.Timeout = 10 * time.Second
	pc, err := kubernetes.NewForConfig(&probe)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if _, err := pc.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("cluster %s (context %q): %w", c.Host, name, explain(err))
	}
	return c, nil
}

// checkNamespace fails, before anything is built, if the namespace does
// not exist. A user allowed in one namespace only may not read
// namespaces: then the first write tells.
func (c *Cluster) checkNamespace(ctx context.Context) error {
	_, err := c.Client.CoreV1().Namespaces().Get(ctx, c.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %s does not exist in %s (create it with kubectl create namespace %s, or name another with --namespace or [kube] namespace)", c.Namespace, c.Host, c.Namespace)
	}
	return nil
}
