package kubetest

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig for server with a context, and a
// user of the same name, for each of Admin (the current context) and
// Viewer.
func writeKubeconfig(path, server string, p *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	for _, user := range []string{Admin, Viewer} {
		cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: p.tokens[user]}
		cfg.Contexts[user] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: user, Namespace: "default"}
	}
	cfg.CurrentContext = Admin
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// restConfigs reads the kubeconfig back, as any client would, into a
// client configuration of each context.
func restConfigs(path string) (map[string]*rest.Config, error) {
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	configs := map[string]*rest.Config{}
	for name := range raw.Contexts {
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig context %s: %w", name, err)
		}
		cfg.QPS, cfg.Burst = 100, 200
		configs[name] = cfg
	}
	return configs, nil
}
