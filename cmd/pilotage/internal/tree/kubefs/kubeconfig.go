package kubefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// A kubeconfig is the merged kubeconfig files, as client-go loads them.
type kubeconfig struct {
	config *clientcmdapi.Config // nil if no file exists
	looked []string             // the files looked at, for messages
}

// loadKubeconfig reads the kubeconfig at path, or, if path is "", the
// files client-go's default loading rules name ($KUBECONFIG, else
// ~/.kube/config). No file at all is not an error: its config is nil.
func loadKubeconfig(path string) (*kubeconfig, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	k := &kubeconfig{looked: rules.GetLoadingPrecedence()}
	if path != "" {
		k.looked = []string{path}
	}
	exists := false
	for _, f := range k.looked {
		if _, err := os.Stat(f); err == nil {
			exists = true
		}
	}
	if !exists {
		return k, nil
	}
	cfg, err := rules.Load()
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", strings.Join(k.looked, ":"), err)
	}
	k.config = cfg
	return k, nil
}

// missing returns the one line saying no kubeconfig was found.
func (k *kubeconfig) missing() string {
	return "no kubeconfig found (looked at " + strings.Join(k.looked, ", ") + ")"
}

// contexts returns the contexts of k by name.
func (k *kubeconfig) contexts() map[string]*clientcmdapi.Context {
	if k.config == nil {
		return nil
	}
	return k.config.Contexts
}

// server returns the URL of the cluster of the context name.
func (k *kubeconfig) server(name string) string {
	c := k.config.Contexts[name]
	if c == nil {
		return ""
	}
	if cl := k.config.Clusters[c.Cluster]; cl != nil {
		return cl.Server
	}
	return ""
}

// restConfig returns the client configuration of the context name.
func (k *kubeconfig) restConfig(name string) (*rest.Config, error) {
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*k.config, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %s: %w", name, err)
	}
	return cfg, nil
}
