package rgp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
)

func newExplainCommand(o *options) *cobra.Command {
	live := &liveSources{}
	cmd := &cobra.Command{
		Use:   "explain pod/NAME",
		Short: "Explain a pod's readiness gates: every policy, its verdict now, and what would change it",
		Long: `Shows every ReadinessGatePolicy that gates the pod, and those that select it
but cannot (a missing readiness gate, a conflict, DryRun, a policy that does
not compile); the condition each wrote, with its reason, message and age;
each variable and the expression evaluated now against live data, with the
source values it read; held flips and stale data; and, last, what would
change the verdict.

It works with your own permissions. http and metrics are fetched through the
API server's pods/proxy, Prometheus at --prometheus-url or through the
Service proxy; a source you may not read is shown as such, naming the
permission, beside the verdict the operator last wrote.

Exit codes: 0 the report was printed; 2 the pod does not exist or the
cluster cannot be reached.`,
		Example: `  kubectl rgp explain pod/checkout-0 -n shop
  kubectl rgp explain checkout-0 -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: o.completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			name, err := podName(args[0])
			if err != nil {
				return err
			}
			c, err := o.connect()
			if err != nil {
				return err
			}
			live.cluster = c
			// A tenant's endpoints may answer slowly, one policy after
			// another: the report is bounded as a whole.
			ctx, cancel := context.WithTimeout(cmd.Context(), explainTimeout)
			defer cancel()
			r, err := explainPod(ctx, c, live, name, time.Now())
			if err != nil {
				return err
			}
			if o.output == outputJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			return printExplanation(cmd.OutOrStdout(), r)
		},
	}
	cmd.Flags().StringVar(&live.prometheusURL, "prometheus-url", "", "Query Prometheus here (e.g. after kubectl port-forward) instead of the policy's address.")
	o.addOutputFlag(cmd)
	return cmd
}

// explainTimeout bounds explain's live reads together; a source not read
// by then is shown failed.
const explainTimeout = 2 * time.Minute

// podName accepts NAME, pod/NAME and pods/NAME.
func podName(arg string) (string, error) {
	kind, name, found := strings.Cut(arg, "/")
	if !found {
		return arg, nil
	}
	if kind != "pod" && kind != "pods" && kind != "po" {
		return "", failed("%q: explain takes a pod: NAME or pod/NAME", arg)
	}
	if name == "" {
		return "", failed("%q: no pod name after the slash", arg)
	}
	return name, nil
}

// Explanation is kubectl rgp explain's report on one pod.
type Explanation struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	// Ready is the pod's Ready condition status.
	Ready    string          `json:"ready"`
	Policies []PolicyVerdict `json:"policies"`
	// Next says, in one line, what would change the pod's readiness.
	Next string `json:"next"`
}

// Roles of a policy towards a pod.
const (
	RoleGates      = "gates"
	RoleDryRun     = "dry-run"
	RoleCannotGate = "cannot-gate"
)

// PolicyVerdict is one policy that selects the pod.
type PolicyVerdict struct {
	Name          string `json:"name"`
	ConditionType string `json:"conditionType"`
	// Role is gates, dry-run (evaluates, never blocks) or cannot-gate.
	Role string `json:"role"`
	// Why explains a role other than gates.
	Why string `json:"why,omitempty"`
	// Expression is the policy's spec.expression.
	Expression string `json:"expression"`
	// Condition is what the operator last wrote; nil before its first write.
	Condition *ConditionView `json:"condition,omitempty"`
	// Now is the expression evaluated now against live data.
	Now *Evaluation `json:"now,omitempty"`
	// Plan is what the operator would do on its next evaluation.
	Plan string `json:"plan,omitempty"`
	// Settings are the thresholds and limits in force.
	Settings string `json:"settings,omitempty"`
	// HeldFlip, when set, is the operator's Event that maxUnavailable holds
	// this pod's flip to False: the gate stays True meanwhile.
	HeldFlip string `json:"heldFlip,omitempty"`
	// Held and Stale are the policy's counts of pods held by maxUnavailable
	// and held True on stale data, as its status reports them.
	Held  int32 `json:"heldPods"`
	Stale int32 `json:"staleDataPods"`
}

// ConditionView is a pod condition with its age.
type ConditionView struct {
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Since is when the condition took its status, and Age how long ago.
	Since string `json:"since,omitempty"`
	Age   string `json:"age,omitempty"`
}

func explainPod(ctx context.Context, c *cluster, live *liveSources, name string, now time.Time) (*Explanation, error) {
	pod := &corev1.Pod{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, failed("pod %q not found in namespace %q (use -n to choose another)", name, c.namespace)
		}
		return nil, c.apiError("getting pod "+name, err)
	}
	policies := &v1alpha1.ReadinessGatePolicyList{}
	if err := c.client.List(ctx, policies, client.InNamespace(pod.Namespace)); err != nil {
		return nil, c.apiError("listing the ReadinessGatePolicies of namespace "+pod.Namespace, err)
	}
	r := &Explanation{Pod: pod.Name, Namespace: pod.Namespace, Ready: podReady(pod)}
	compiled := map[string]*policy.Compiled{}
	selects := func(p *v1alpha1.ReadinessGatePolicy, pod metav1.Object) bool {
		cp, ok := compiled[p.Name]
		if !ok {
			cp = c.compile(p)
			compiled[p.Name] = cp
		}
		return cp.Selects(pod.GetNamespace(), pod.GetLabels()) || (cp.Err != nil && policy.Selects(p, pod))
	}
	for i := range policies.Items {
		p := &policies.Items[i]
		if p.DeletionTimestamp != nil || !selects(p, pod) {
			continue
		}
		v := verdictFor(now, compiled[p.Name], p, policies.Items, pod, selects)
		if v.Role != RoleCannotGate {
			ev := evaluate(ctx, compiled[p.Name], pod, live.gather(ctx, compiled[p.Name], pod, acceptedAsItIs(p)), now)
			v.Now = &ev
			v.Plan = planText(compiled[p.Name], pod, ev.observation, now)
		}
		r.Policies = append(r.Policies, v)
	}
	markHeldFlips(r.Policies, pod, heldFlipEvents(ctx, c, pod), now)
	r.Next = nextStep(pod, r.Policies)
	return r, nil
}

// acceptedAsItIs reports whether the operator accepted the policy as it is
// now: an acceptance of an earlier generation says nothing of an address
// edited since.
func acceptedAsItIs(p *v1alpha1.ReadinessGatePolicy) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionAccepted)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
}

// heldFlipEvents lists the pod's FlipDeferred Events; without the
// permission to list Events, explain goes on without them. The list has
// time of its own: slow sources that spent explain's must not hide a held
// flip.
func heldFlipEvents(ctx context.Context, c *cluster, pod *corev1.Pod) []corev1.Event {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	events := &corev1.EventList{}
	if err := c.client.List(ctx, events, client.InNamespace(pod.Namespace),
		client.MatchingFields{"involvedObject.kind": "Pod", "involvedObject.name": pod.Name}); err != nil {
		return nil
	}
	var held []corev1.Event
	for _, e := range events.Items {
		if e.Reason == gate.EventFlipDeferred {
			held = append(held, e)
		}
	}
	return held
}

// markHeldFlips notes, on each gating policy whose gate is still True, the
// FlipDeferred Event recorded since it turned True: the operator records
// one per held episode.
func markHeldFlips(verdicts []PolicyVerdict, pod *corev1.Pod, events []corev1.Event, now time.Time) {
	for i := range verdicts {
		v := &verdicts[i]
		cond := gate.Find(pod, v.ConditionType)
		if v.Role != RoleGates || cond == nil || cond.Status != corev1.ConditionTrue {
			continue
		}
		for _, e := range events {
			at := eventTime(e)
			if at.Before(cond.LastTransitionTime.Time) || !strings.Contains(e.Message, "policy "+v.Name+" ") {
				continue
			}
			v.HeldFlip = fmt.Sprintf("%s (%s ago)", e.Message, duration.HumanDuration(now.Sub(at)))
		}
	}
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return e.CreationTimestamp.Time
}

// whyDoesNotCompile starts the Why of a policy that does not compile.
const whyDoesNotCompile = "the policy does not compile"

// verdictFor says what a policy that selects the pod does with it.
func verdictFor(now time.Time, c *policy.Compiled, p *v1alpha1.ReadinessGatePolicy, peers []v1alpha1.ReadinessGatePolicy, pod *corev1.Pod, selects policy.SelectsFunc) PolicyVerdict {
	v := PolicyVerdict{Name: p.Name, ConditionType: p.Spec.ConditionType, Expression: p.Spec.Expression, Role: RoleGates, Held: p.Status.HeldPods, Stale: p.Status.StaleDataPods}
	if cond := gate.Find(pod, p.Spec.ConditionType); cond != nil {
		v.Condition = &ConditionView{Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message}
		if !cond.LastTransitionTime.IsZero() {
			v.Condition.Since = cond.LastTransitionTime.UTC().Format(time.RFC3339)
			v.Condition.Age = duration.HumanDuration(now.Sub(cond.LastTransitionTime.Time))
		}
	}
	accepted := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionAccepted)
	switch owner := policy.Owner(peers, pod, p.Spec.ConditionType, selects); {
	case c.Err != nil:
		v.Role, v.Why = RoleCannotGate, whyDoesNotCompile+", so it evaluates nothing: a True gate stays True, the others False until failOpenAfter: "+c.Err.Error()
	case accepted != nil && accepted.Status == "False":
		v.Role, v.Why = RoleCannotGate, "the policy is not accepted ("+accepted.Reason+"): "+accepted.Message
	case owner != nil && owner.Name != p.Name:
		v.Role, v.Why = RoleCannotGate, "conflict: the older policy "+owner.Name+" owns "+p.Spec.ConditionType+" on this pod"
	case !gate.HasGate(pod, p.Spec.ConditionType):
		v.Role, v.Why = RoleCannotGate, "the pod's spec.readinessGates lacks "+p.Spec.ConditionType+": add it to the pod template and restart the pod"
	case p.Spec.Suspend:
		v.Role, v.Why = RoleDryRun, "the policy is suspended: its gates are released True"
	case c.Settings.DryRun:
		v.Role, v.Why = RoleDryRun, "mode DryRun: the gate is always True and its message says the would-be verdict"
	}
	if c.Err == nil {
		v.Settings = settingsText(c)
	}
	return v
}

// planText runs the operator's planner on the live observation, as the
// operator would on a fresh start (its streak counters live in memory).
func planText(c *policy.Compiled, pod *corev1.Pod, obs gate.Observation, now time.Time) string {
	cur := gate.Find(pod, c.ConditionType)
	plan := gate.PlanPod(gate.PodInput{
		Settings: c.Settings, Gated: gate.HasGate(pod, c.ConditionType), Current: cur,
		Observation: obs, ReadsOnlyPod: c.ReadsOnlyPod(),
		ContainersReadySince: gate.ContainersReadySince(pod).Time, Now: now,
		AdmitFlip: func() bool { return true },
	})
	return describePlan(plan, c.Settings, cur != nil && cur.Status == corev1.ConditionTrue)
}

func podReady(pod *corev1.Pod) string {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return string(cond.Status)
		}
	}
	return string(corev1.ConditionUnknown)
}
