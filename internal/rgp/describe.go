package rgp

import (
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/policy"
)

// describePlan says in words what the planner decided.
func describePlan(plan gate.Plan, s gate.Settings, isTrue bool) string {
	c := plan.State.Counters
	switch {
	case plan.Write != nil:
		return fmt.Sprintf("would write %s (%s): %s", plan.Write.Status, plan.Write.Reason, gate.CutTo(plan.Write.Message, maxValueText))
	case plan.State.Stale:
		return "keeps the gate True on its last good result: a source failed, and onError: Hold holds the gate"
	case isTrue && c.Failures > 0 && c.Failures < s.Failure:
		return fmt.Sprintf("keeps the gate: %d of %d consecutive false results needed to turn it False, one per interval (%s)", c.Failures, s.Failure, s.Interval)
	case !isTrue && c.Successes > 0 && c.Successes < s.Success:
		return fmt.Sprintf("keeps the gate: %d of %d consecutive true results needed to turn it True, one per interval (%s)", c.Successes, s.Success, s.Interval)
	}
	return "keeps the gate as it is"
}

// settingsText lists the knobs in force, defaults applied.
func settingsText(c *policy.Compiled) string {
	s := c.Settings
	parts := []string{
		fmt.Sprintf("interval %s", s.Interval),
		fmt.Sprintf("successThreshold %d", s.Success),
		fmt.Sprintf("failureThreshold %d", s.Failure),
		fmt.Sprintf("maxUnavailable %s", c.MaxUnavailable.String()),
	}
	if s.FailOpenAfter > 0 {
		parts = append(parts, fmt.Sprintf("failOpenAfter %s", s.FailOpenAfter))
	}
	if s.OnErrorFail {
		parts = append(parts, "onError Fail")
	} else {
		parts = append(parts, "onError Hold")
	}
	return strings.Join(parts, ", ")
}

// nextStep is the one line at the end of explain: what would change the
// pod's readiness, from the first policy that holds it back.
func nextStep(pod *corev1.Pod, verdicts []PolicyVerdict) string {
	for _, v := range verdicts {
		if v.Role != RoleGates {
			continue
		}
		if line := gateNextStep(v); line != "" {
			return line
		}
	}
	for _, v := range verdicts {
		if line := brokenNextStep(v); line != "" {
			return line
		}
	}
	for _, v := range verdicts {
		if v.Role == RoleCannotGate && strings.Contains(v.Why, "readinessGates lacks") {
			return "policy " + v.Name + " cannot gate this pod: " + v.Why
		}
	}
	switch {
	case len(verdicts) == 0 && len(notTrueGates(pod)) > 0:
		return fmt.Sprintf("no ReadinessGatePolicy selects this pod, and its gates %s are not True: readygate sets none of them until a policy selects the pod (unless another controller owns them)",
			strings.Join(notTrueGates(pod), ", "))
	case len(verdicts) == 0:
		return "no ReadinessGatePolicy selects this pod: its readiness is the kubelet's alone"
	case podReady(pod) == string(corev1.ConditionTrue):
		return "nothing holds the pod back: every gate readygate decides is True"
	}
	return "every gate readygate decides is True: the pod is not Ready for another reason (its containers, or another readiness gate)"
}

// brokenNextStep is what frees a gate that a policy which does not compile
// holds not True, or empty for any other verdict: the operator holds such
// gates as errors until failOpenAfter.
func brokenNextStep(v PolicyVerdict) string {
	if v.Role != RoleCannotGate || !strings.HasPrefix(v.Why, whyDoesNotCompile) || v.Condition == nil || v.Condition.Status == string(corev1.ConditionTrue) {
		return ""
	}
	return fmt.Sprintf("policy %s does not compile and holds %s %s until it is mended, suspended or switched to DryRun, or failOpenAfter fails the gate open",
		v.Name, v.ConditionType, conditionText(v.Condition))
}

// notTrueGates are the pod's readiness gates whose condition is not True.
func notTrueGates(pod *corev1.Pod) []string {
	var out []string
	for _, g := range pod.Spec.ReadinessGates {
		if c := gate.Find(pod, string(g.ConditionType)); c == nil || c.Status != corev1.ConditionTrue {
			out = append(out, string(g.ConditionType))
		}
	}
	return out
}

// gateNextStep is what would change one gating policy's verdict, or empty
// when it does not hold the pod back and will not.
func gateNextStep(v PolicyVerdict) string {
	isTrue := v.Condition != nil && v.Condition.Status == string(corev1.ConditionTrue)
	now := ""
	if v.Now != nil {
		now = v.Now.Outcome
	}
	detail := ""
	if v.Now != nil && v.Now.Message != "" {
		detail = ": " + v.Now.Message
	}
	switch {
	case isTrue && v.HeldFlip != "":
		return fmt.Sprintf("%s stays True while maxUnavailable has no room for its flip to False: it flips once other pods of policy %s turn True", v.ConditionType, v.Name)
	case isTrue && (now == outcomeFalse || now == outcomeUnreachable):
		return fmt.Sprintf("%s is True but the expression is %s now%s; it turns False after failureThreshold consecutive results, if maxUnavailable has room", v.ConditionType, now, detail)
	case isTrue:
		return ""
	case now == outcomeTrue:
		return fmt.Sprintf("the expression is true now: %s turns True once successThreshold is met (%s)", v.ConditionType, v.Settings)
	case now == outcomeFalse:
		return fmt.Sprintf("%s turns True when the expression holds; now it is false%s", v.ConditionType, detail)
	case now == outcomeUnknown:
		return fmt.Sprintf("you cannot read the policy's sources (%s); the operator last wrote %s", detail[min(len(detail), 2):], conditionText(v.Condition))
	}
	return fmt.Sprintf("%s waits on %s%s", v.ConditionType, now, detail)
}

func conditionText(c *ConditionView) string {
	if c == nil {
		return "nothing yet"
	}
	s := c.Status
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

// printExplanation writes explain's report as text.
func printExplanation(w io.Writer, r *Explanation) error {
	tw := &textWriter{w: w}
	tw.printf("Pod %s/%s  Ready=%s\n", r.Namespace, r.Pod, r.Ready)
	for _, v := range r.Policies {
		tw.printf("\nPolicy %s  condition %s  %s\n", v.Name, v.ConditionType, v.Role)
		if v.Why != "" {
			tw.printf("  why:        %s\n", v.Why)
		}
		if v.Settings != "" {
			tw.printf("  settings:   %s\n", v.Settings)
		}
		tw.printf("  expression: %s\n", gate.CutTo(strings.Join(strings.Fields(v.Expression), " "), maxValueText))
		tw.printf("  condition:  %s", conditionText(v.Condition))
		if v.Condition != nil && v.Condition.Since != "" {
			tw.printf("  (since %s, %s ago)", v.Condition.Since, v.Condition.Age)
		}
		tw.printf("\n")
		if v.Now != nil {
			tw.printf("  now:        %s", v.Now.Outcome)
			if v.Now.Message != "" {
				tw.printf(": %s", v.Now.Message)
			}
			tw.printf("  (cost %d)\n", v.Now.Cost)
			printEvaluationDetail(tw, "    ", *v.Now)
		}
		if v.Plan != "" {
			tw.printf("  next write: %s\n", v.Plan)
		}
		if v.HeldFlip != "" {
			tw.printf("  held flip:  %s\n", v.HeldFlip)
		}
		if v.Held > 0 || v.Stale > 0 {
			tw.printf("  policy:     %d pods held by maxUnavailable, %d held True on stale data\n", v.Held, v.Stale)
		}
	}
	tw.printf("\nNext: %s\n", r.Next)
	return tw.err
}
