package rgp

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
)

type statusOptions struct {
	*options
	allNamespaces bool
	watch         bool
	timeout       time.Duration
	interval      time.Duration
}

func newStatusCommand(o *options) *cobra.Command {
	s := &statusOptions{options: o}
	cmd := &cobra.Command{
		Use:   "status [POLICY]",
		Short: "Show how far each policy's rollout is; --watch waits until every matched pod is True",
		Long: `Per policy: the pods it matches, how many are True, how many lack the readiness
gate, how many maxUnavailable holds and how many are held True on stale data,
and the pods that are not True with their reasons. Counts are computed from
the pods now; held and stale come from the policy's status.

With --watch, a progress bar per policy is printed as it moves, until every
matched pod is True (a policy that matches no pod counts as done) or
--timeout passes.

Exit codes: 0 printed, or (--watch) every matched pod is True; 1 --watch timed
out; 2 the policy does not exist or the cluster cannot be reached.`,
		Example: `  kubectl rgp status -n shop
  kubectl rgp status checkout-warm --watch --timeout 5m`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: o.completePolicies,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if s.watch {
				return s.watchRollout(cmd.Context(), cmd.OutOrStdout(), c, name)
			}
			rollouts, err := s.read(cmd.Context(), c, name)
			if err != nil {
				return err
			}
			if o.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), rollouts)
			}
			return printRollouts(cmd.OutOrStdout(), rollouts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&s.allNamespaces, "all-namespaces", "A", false, "Every namespace's policies.")
	f.BoolVarP(&s.watch, "watch", "w", false, "Follow the rollout until every matched pod is True, or --timeout.")
	f.DurationVar(&s.timeout, "timeout", 10*time.Minute, "How long --watch waits.")
	f.DurationVar(&s.interval, "interval", 2*time.Second, "How often --watch reads the pods.")
	o.addOutputFlag(cmd)
	return cmd
}

// Rollout is one policy's progress.
type Rollout struct {
	Namespace     string `json:"namespace"`
	Policy        string `json:"policy"`
	ConditionType string `json:"conditionType"`
	Matched       int32  `json:"matched"`
	Ready         int32  `json:"ready"`
	Missing       int32  `json:"missingGate"`
	Held          int32  `json:"held"`
	Stale         int32  `json:"staleData"`
	// Problem says why the policy evaluates nothing: it does not compile.
	Problem  string       `json:"problem,omitempty"`
	NotReady []PodPending `json:"notReady,omitempty"`
}

// PodPending is a matched pod whose gate is not True.
type PodPending struct {
	Pod     string `json:"pod"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Done reports every matched pod True.
func (r Rollout) Done() bool { return r.Problem == "" && r.Ready == r.Matched }

// read computes every selected policy's rollout from the pods now.
func (s *statusOptions) read(ctx context.Context, c *cluster, name string) ([]Rollout, error) {
	ns := c.namespace
	if s.allNamespaces {
		ns = ""
	}
	policies := &v1alpha1.ReadinessGatePolicyList{}
	if err := c.client.List(ctx, policies, client.InNamespace(ns)); err != nil {
		return nil, c.apiError("listing ReadinessGatePolicies", err)
	}
	pods := &corev1.PodList{}
	if err := c.client.List(ctx, pods, client.InNamespace(ns)); err != nil {
		return nil, c.apiError("listing pods", err)
	}
	var out []Rollout
	for i := range policies.Items {
		p := &policies.Items[i]
		if name != "" && p.Name != name {
			continue
		}
		out = append(out, rolloutOf(c.compile(p), p, policies.Items, pods.Items))
	}
	if name != "" && len(out) == 0 {
		if ns == "" {
			return nil, failed("policy %q not found in any namespace", name)
		}
		return nil, failed("policy %q not found in namespace %q (use -n to choose another, or -A)", name, ns)
	}
	return out, nil
}

// rolloutOf counts a policy's pods as the operator's status does.
func rolloutOf(c *policy.Compiled, p *v1alpha1.ReadinessGatePolicy, peers []v1alpha1.ReadinessGatePolicy, pods []corev1.Pod) Rollout {
	r := Rollout{Namespace: p.Namespace, Policy: p.Name, ConditionType: p.Spec.ConditionType, Held: p.Status.HeldPods, Stale: p.Status.StaleDataPods}
	// A policy that does not compile still decides the pods it selects, as
	// errors: they count, and those it holds False are listed.
	if c.Err != nil {
		r.Problem = c.Err.Error()
	}
	selects := policy.Selects
	ptrs := make([]*corev1.Pod, len(pods))
	for i := range pods {
		ptrs[i] = &pods[i]
	}
	sum := policy.Summarize(c, ptrs, peers, selects, func(metav1.Object) gate.State { return gate.State{} })
	r.Matched, r.Ready, r.Missing = sum.Matched, sum.Ready, sum.Missing
	for i := range pods {
		pod := &pods[i]
		if !c.Selects(pod.Namespace, pod.Labels) || pod.DeletionTimestamp != nil || !gate.HasGate(pod, c.ConditionType) {
			continue
		}
		if owner := policy.Owner(peers, pod, c.ConditionType, selects); owner != nil && owner.UID != p.UID {
			continue
		}
		cond := c.Settings.Verdict(gate.Find(pod, c.ConditionType))
		switch {
		case cond == nil:
			r.NotReady = append(r.NotReady, PodPending{Pod: pod.Name, Status: "None", Message: "not evaluated yet"})
		case cond.Status != corev1.ConditionTrue:
			r.NotReady = append(r.NotReady, PodPending{Pod: pod.Name, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message})
		}
	}
	return r
}

func printRollouts(w io.Writer, rollouts []Rollout) error {
	tw := &textWriter{w: w}
	tw.printf("%-12s %-24s %-36s %7s %5s %7s %4s %5s\n", "NAMESPACE", "POLICY", "CONDITION", "MATCHED", "READY", "MISSING", "HELD", "STALE")
	for _, r := range rollouts {
		tw.printf("%-12s %-24s %-36s %7d %5d %7d %4d %5d\n", r.Namespace, r.Policy, r.ConditionType, r.Matched, r.Ready, r.Missing, r.Held, r.Stale)
		if r.Problem != "" {
			tw.printf("  problem: %s\n", r.Problem)
		}
		for _, p := range r.NotReady {
			tw.printf("  %s  %s", p.Pod, p.Status)
			if p.Reason != "" {
				tw.printf("  %s", p.Reason)
			}
			if p.Message != "" {
				tw.printf("  %s", gate.CutTo(p.Message, 160))
			}
			tw.printf("\n")
		}
	}
	return tw.err
}

// progressWidth is the number of cells of a progress bar.
const progressWidth = 30

// progressBar draws ready of matched as a bar.
func progressBar(r Rollout) string {
	filled := progressWidth
	if r.Matched > 0 {
		filled = int(int64(r.Ready) * progressWidth / int64(r.Matched))
	}
	line := fmt.Sprintf("%s/%s [%s%s] %d/%d True", r.Namespace, r.Policy, strings.Repeat("#", filled), strings.Repeat(".", progressWidth-filled), r.Ready, r.Matched)
	if r.Held > 0 {
		line += fmt.Sprintf(", %d held", r.Held)
	}
	if r.Problem != "" {
		line += " (" + r.Problem + ")"
	}
	return line
}

// readTimeout bounds one read of --watch, whatever is left of --timeout.
const readTimeout = 30 * time.Second

// watchRollout prints each policy's bar when it moves, until every matched
// pod is True (exit 0) or the timeout (exit 1). The timeout ends the wait
// between reads, never a read: a read cut short would end in an error
// rather than the timeout. A first read that fails is bad input (exit 2);
// a later one is an API blip a deploy script should ride out.
func (s *statusOptions) watchRollout(ctx context.Context, w io.Writer, c *cluster, name string) error {
	tw := &textWriter{w: w}
	deadline := time.NewTimer(s.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	shown := map[string]string{}
	var last []Rollout
	var lastErr error
	for first := true; ; first = false {
		readCtx, cancel := context.WithTimeout(ctx, readTimeout)
		rollouts, err := s.read(readCtx, c, name)
		cancel()
		switch {
		case err != nil && first:
			return err
		case err != nil:
			lastErr = err
		default:
			last, lastErr = rollouts, nil
			if s.report(tw, rollouts, shown) {
				tw.printf("every matched pod is True\n")
				return tw.err
			}
		}
		select {
		case <-ctx.Done():
			return &exitError{code: ExitNotReady, err: fmt.Errorf("interrupted: %s", notDone(last, lastErr))}
		case <-deadline.C:
			return &exitError{code: ExitNotReady, err: fmt.Errorf("timed out after %s: %s", s.timeout, notDone(last, lastErr))}
		case <-tick.C:
		}
	}
}

// report prints the bars that moved and says whether every rollout is done.
func (s *statusOptions) report(tw *textWriter, rollouts []Rollout, shown map[string]string) bool {
	done := true
	for _, r := range rollouts {
		key := r.Namespace + "/" + r.Policy
		if bar := progressBar(r); shown[key] != bar {
			tw.printf("%s\n", bar)
			shown[key] = bar
		}
		done = done && r.Done()
	}
	return done
}

func notDone(rollouts []Rollout, lastErr error) string {
	var parts []string
	if lastErr != nil {
		parts = append(parts, "the last read failed: "+lastErr.Error())
	}
	for _, r := range rollouts {
		if !r.Done() {
			parts = append(parts, fmt.Sprintf("%s has %d of %d pods True", r.Policy, r.Ready, r.Matched))
		}
	}
	return strings.Join(parts, "; ")
}
