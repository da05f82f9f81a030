package config

// Kube holds the [kube] section: how "pilotage deploy" puts the app on a
// Kubernetes cluster. Flags of the command override it.
type Kube struct {
	// Registry is the image repository prefix the app's image is pushed
	// to and pulled from: "ghcr.io/acme", "localhost:5000". The image is
	// <registry>/<app>.
	Registry string `toml:"registry"`
	// Namespace to deploy to; empty: the kubeconfig context's.
	Namespace string `toml:"namespace"`
}
