package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/kube/deploy"
)

func statusCmd() *command {
	var (
		asJSON bool
		k      onKube
	)
	return &command{
		name:  "status",
		usage: "[app] | --kube [--context C] [--namespace N] app",
		short: "show the components and units of a running app",
		long: `Status shows every component and unit of a running app, in start order:
its state (starting, ready, degraded, stopping, stopped, failed,
restarting), ready replicas, restarts, public address and uptime, then one
line per replica with its pid, and why anything (a component, a unit, a
replica) is not ready. A degraded component has some replicas serving and
others down; a replica that stops answering the supervisor is
unresponsive (out of routing, and replaced if it stays so). It also says
which replicas their callers ejected for failing or timing out, and for
which components a caller's circuit is open (it ejected every replica,
so its calls fail at once until a probe succeeds).

` + appLookupHelp("") + `

With --kube (or --context, --namespace, --kubeconfig), it shows the app as
"pilotage deploy" put it on a cluster: its live, canary and retired
versions, each group's ready and wanted pods, each listener Service
with the pods it routes to, and the pods that their callers ejected for
failing or timing out (or whose component's circuit a caller opened), as
each pod's envelope reports them.`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print the status as JSON")
			k.flags(fs, "show the app deployed to Kubernetes")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, _ io.Writer) error {
			if k.set() {
				if len(args) != 1 {
					return fmt.Errorf("%w: with --kube, name the app", errUsage)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				st, err := deploy.Status(ctx, k.Target, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(stdout, st)
				}
				return printKubeStatus(stdout, st)
			}
			app, err := optionalApp(args)
			if err != nil {
				return err
			}
			return withApp(app, 10*time.Second, func(ctx context.Context, c *control.Client) error {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(stdout, st)
				}
				return printStatus(stdout, st)
			})
		},
	}
}

// printStatus writes st as a table, like systemctl list-units or kubectl get.
func printStatus(w io.Writer, st *control.Status) error {
	head := fmt.Sprintf("%s: supervisor pid %d", st.App, st.PID)
	if st.Deployment != "" {
		head += ", deployment " + st.Deployment
	}
	head += ", up " + age(st.Now, st.Started)
	switch {
	case st.Stopping:
		head += ", stopping"
	case !st.ReadyAt.IsZero():
		head += fmt.Sprintf(", ready in %s", st.ReadyAt.Sub(st.Started).Round(time.Millisecond))
	default:
		head += ", not ready yet"
	}
	fmt.Fprintln(w, head)
	if c := st.Coordination; c != nil {
		where := "etcd at " + strings.Join(c.Endpoints, ", ")
		if c.Embedded {
			where = "embedded etcd at " + strings.Join(c.Endpoints, ", ")
		}
		fmt.Fprintf(w, "coordination store: %s, prefix %s\n", where, c.Prefix)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	for _, p := range st.Proxies {
		line := fmt.Sprintf("%s: http://%s (%d backends, %d of %d connections", p.Listener, p.Address, len(p.Backends), p.Connections, p.MaxConnections)
		if p.Refused > 0 {
			line += fmt.Sprintf(", %d refused", p.Refused)
		}
		line += ")"
		if len(p.Backends) == 0 && p.Outage != "" {
			line += ": no ready replica: " + p.Outage
		}
		if p.AcceptError != "" {
			line += fmt.Sprintf("; accept failing %s ago: %s", age(st.Now, p.AcceptErrorAt), p.AcceptError)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tREPLICAS\tRESTARTS\tADDRESS\tUPTIME")
	var whys []string
	seenGroup := map[string]bool{}
	for _, u := range st.Units {
		ready := 0
		for _, r := range u.Replicas {
			if r.State == control.Ready {
				ready++
			}
		}
		addr := strings.Join(u.Addresses, ",")
		if addr == "" {
			addr = "-"
		}
		up := "-"
		if u.State == control.Ready && !u.ReadyAt.IsZero() {
			up = age(st.Now, u.StartedAt)
		}
		name := u.Name
		if len(u.Colocated) > 0 {
			name += " (group " + u.Group + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\n", name, u.State, ready, u.Want, u.Restarts, addr, up)
		if u.Why != "" {
			whys = append(whys, fmt.Sprintf("%s: %s", u.Name, u.Why))
		}
		whys = append(whys, callNotes(u)...)
		if seenGroup[u.Group] {
			continue // the replicas of a group are listed under its first component
		}
		seenGroup[u.Group] = true
		for _, r := range u.Replicas {
			pid, rup := "-", "-"
			if r.PID != 0 {
				pid = fmt.Sprintf("pid %d", r.PID)
				rup = age(st.Now, r.Started)
			}
			raddr := r.RPCAddress
			if raddr == "" {
				raddr = "-"
			}
			src := u.Group
			if u.Kind == "component" {
				src = fmt.Sprintf("%s/%d", u.Group, r.Index)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", src, r.State, pid, r.Restarts, raddr, rup)
			if r.State != control.Ready && r.Why != "" && r.Why != u.Why {
				whys = append(whys, fmt.Sprintf("%s: %s", src, r.Why))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(whys) > 0 {
		fmt.Fprintln(w)
		for _, why := range whys {
			fmt.Fprintln(w, why)
		}
	}
	return nil
}

// age formats the time from t to now briefly: 4s, 3m12s, 2h5m, 3d4h.
// callNotes says which callers of component u ejected its replicas, and
// in which the circuit to it is open.
func callNotes(u control.UnitStatus) []string {
	var notes []string
	if len(u.CircuitOpenIn) > 0 {
		notes = append(notes, fmt.Sprintf("%s: circuit open in %s: every replica ejected, calls fail at once until a probe succeeds", u.Name, strings.Join(u.CircuitOpenIn, ", ")))
	}
	for _, r := range u.Replicas {
		if len(r.EjectedBy) > 0 {
			notes = append(notes, fmt.Sprintf("%s/%d: ejected by %s for failing or timing out (probed until it recovers)", u.Group, r.Index, strings.Join(r.EjectedBy, ", ")))
		}
	}
	return notes
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// printKubeStatus writes the status of a deployed app as tables.
func printKubeStatus(w io.Writer, st *deploy.AppStatus) error {
	head := fmt.Sprintf("%s in namespace %s of %s: live version %s", st.App, st.Namespace, st.Cluster, st.Live)
	if st.Canary != "" {
		head += fmt.Sprintf(", canary %s (%d %%)", st.Canary, st.Share)
	}
	if st.Previous != "" {
		head += ", previous " + st.Previous + " (retired: pilotage rollback)"
	}
	fmt.Fprintln(w, head)
	if r := st.Router; r != nil {
		how := "request by request"
		if r.Sticky != "" {
			how = "sticky by " + r.Sticky
		}
		fmt.Fprintf(w, "canary router %s: %d/%d ready, %s\n", r.Deployment, r.Ready, r.Replicas, how)
		if r.Counts != nil {
			fmt.Fprintf(w, "  %s\n", r.Counts)
		}
		if r.CountsError != "" {
			fmt.Fprintf(w, "  counts: %s\n", r.CountsError)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tGROUP\tREADY\tSTATE\tCOMPONENTS")
	for _, g := range st.Groups {
		state := "serving"
		switch {
		case g.Stopped:
			state = "stopped"
		case g.Replicas == 0:
			state = "retired"
		case g.Ready < g.Replicas:
			state = "starting"
		}
		var short []string
		for _, c := range g.Components {
			short = append(short, c[strings.LastIndex(c, "/")+1:])
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", g.Version, g.Group, g.Ready, g.Replicas, state, strings.Join(short, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Listeners) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "LISTENER\tSERVICE\tPORT\tREADY PODS\tSELECTS")
		for _, l := range st.Listeners {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", l.Listener, l.Service, l.Port, l.Ready, l.Selector)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if s := st.Store; s != nil {
		fmt.Fprintf(w, "\ncoordination store: statefulset %s, %d/%d members ready, at %s\n", s.StatefulSet, s.Ready, s.Members, strings.Join(s.Endpoints, ", "))
	}
	if len(st.Calls) > 0 || st.CallsError != "" {
		fmt.Fprintln(w, "\ncalls:")
	}
	for _, c := range st.Calls {
		comp := c.Component[strings.LastIndex(c.Component, "/")+1:]
		for _, e := range c.Ejected {
			fmt.Fprintf(w, "  %s: pod %s ejected (failing or timing out) by %s\n", comp, e.Pod, strings.Join(e.By, ", "))
		}
		if len(c.CircuitOpen) > 0 {
			fmt.Fprintf(w, "  %s: circuit open (every pod ejected: calls fail at once until a probe succeeds) in %s\n", comp, strings.Join(c.CircuitOpen, ", "))
		}
	}
	if st.CallsError != "" {
		fmt.Fprintf(w, "  not known for every pod: %s\n", st.CallsError)
	}
	return nil
}
