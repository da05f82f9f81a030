package deploy

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/layout"
	"github.com/pilotage/pilotage/internal/envelope"
)

// CallStatus is what the pods that call one component see of its pods,
// where not all is well.
type CallStatus struct {
	Component string     `json:"component"`
	Ejected   []Ejection `json:"ejected,omitempty"`
	// CircuitOpen lists the pods that ejected every pod of the component:
	// their calls to it fail at once, until a probe succeeds.
	CircuitOpen []string `json:"circuit_open_in,omitempty"`
}

// An Ejection is a pod that its callers took out of their pools for
// failing or timing out; they probe it back in after a growing interval.
type Ejection struct {
	Pod string   `json:"pod"` // its RPC address, if no running pod has it
	By  []string `json:"by"`  // the pods that ejected it
}

// callHealth returns what the pods of app's live and canary versions say
// of their calls (each pod's envelope keeps its runtime's last
// CallHealth): the pods ejected, by whom, and the circuits open. The
// error names the pods that did not answer.
func (c *Cluster) callHealth(ctx context.Context, app string, st state) ([]CallStatus, error) {
	pods, err := c.servingPods(ctx, app, st)
	if err != nil {
		return nil, err
	}
	answers, failed := fetchAll[envelope.CallHealth](ctx, c, pods, layout.CallHealthPath)
	podAt := map[string]string{} // RPC address -> pod
	for _, p := range pods {
		if p.Status.PodIP != "" {
			podAt[layout.RPCAddress(p.Status.PodIP)] = p.Name
		}
	}
	ejected := map[string]map[string][]string{} // component -> ejected pod -> by
	open := map[string][]string{}               // component -> pods with its circuit open
	for _, a := range answers {
		for comp, h := range a.value.Components {
			if ejected[comp] == nil {
				ejected[comp] = map[string][]string{}
			}
			for _, addr := range h.Ejected {
				pod := podAt[addr]
				if pod == "" {
					pod = addr
				}
				ejected[comp][pod] = append(ejected[comp][pod], a.pod.Name)
			}
			if h.Open {
				open[comp] = append(open[comp], a.pod.Name)
			}
		}
	}
	var out []CallStatus
	for _, comp := range slices.Sorted(maps.Keys(ejected)) {
		cs := CallStatus{Component: comp, CircuitOpen: open[comp]}
		for _, pod := range slices.Sorted(maps.Keys(ejected[comp])) {
			cs.Ejected = append(cs.Ejected, Ejection{Pod: pod, By: ejected[comp][pod]})
		}
		out = append(out, cs)
	}
	return out, errors.Join(failed...)
}
