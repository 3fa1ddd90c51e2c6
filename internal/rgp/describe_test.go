package rgp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podschema"
	"github.com/readygate/readygate/internal/policy"
)

func TestNextStep(t *testing.T) {
	readyPod := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	unreadyPod := &corev1.Pod{}
	cond := func(status string) *ConditionView { return &ConditionView{Status: status, Reason: "R", Message: "m"} }
	now := func(outcome, msg string) *Evaluation { return &Evaluation{Outcome: outcome, Message: msg} }
	cases := []struct {
		name     string
		pod      *corev1.Pod
		verdicts []PolicyVerdict
		want     string
	}{
		{"no policy", readyPod, nil, "no ReadinessGatePolicy selects this pod: its readiness is the kubelet's alone"},
		{"no policy, a gate never written", &corev1.Pod{Spec: corev1.PodSpec{ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x.io/a"}}}}, nil,
			"no ReadinessGatePolicy selects this pod, and its gates x.io/a are not True: readygate sets none of them until a policy selects the pod"},
		{"gate False, expression false", unreadyPod, []PolicyVerdict{{Role: RoleGates, ConditionType: "x.io/a", Condition: cond("False"), Now: now("false", "cold")}},
			"x.io/a turns True when the expression holds; now it is false: cold"},
		{"gate False, expression true", unreadyPod, []PolicyVerdict{{Role: RoleGates, ConditionType: "x.io/a", Condition: cond("False"), Now: now("true", ""), Settings: "successThreshold 3"}},
			"the expression is true now: x.io/a turns True once successThreshold is met (successThreshold 3)"},
		{"gate True, expression false", readyPod, []PolicyVerdict{{Role: RoleGates, ConditionType: "x.io/a", Condition: cond("True"), Now: now("false", "")}},
			"x.io/a is True but the expression is false now; it turns False after failureThreshold"},
		{"flip held by maxUnavailable", readyPod, []PolicyVerdict{{Name: "p", Role: RoleGates, ConditionType: "x.io/a", Condition: cond("True"), Now: now("false", ""), HeldFlip: "held"}},
			"x.io/a stays True while maxUnavailable has no room for its flip to False"},
		{"sources unreadable", unreadyPod, []PolicyVerdict{{Role: RoleGates, ConditionType: "x.io/a", Condition: cond("False"), Now: now("unknown", "cannot read http without get pods/proxy in namespace n")}},
			"you cannot read the policy's sources (cannot read http without get pods/proxy in namespace n); the operator last wrote False (R): m"},
		{"no condition yet, source failing", unreadyPod, []PolicyVerdict{{Role: RoleGates, ConditionType: "x.io/a", Now: now("pod-unreachable", "http: refused")}},
			"x.io/a waits on pod-unreachable: http: refused"},
		{"missing gate only", readyPod, []PolicyVerdict{{Name: "p", Role: RoleCannotGate, Why: "the pod's spec.readinessGates lacks x.io/a: add it"}},
			"policy p cannot gate this pod: the pod's spec.readinessGates lacks x.io/a"},
		{"every gate True, pod Ready", readyPod, []PolicyVerdict{{Role: RoleGates, Condition: cond("True"), Now: now("true", "")}}, "nothing holds the pod back"},
		{"every gate True, pod not Ready", unreadyPod, []PolicyVerdict{{Role: RoleGates, Condition: cond("True"), Now: now("true", "")}}, "the pod is not Ready for another reason"},
		{"dry run never holds", unreadyPod, []PolicyVerdict{{Role: RoleDryRun, Condition: cond("True"), Now: now("false", "")}}, "the pod is not Ready for another reason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextStep(tc.pod, tc.verdicts); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to say %q", got, tc.want)
			}
		})
	}
}

func TestDescribePlan(t *testing.T) {
	s := gate.Settings{Thresholds: gate.Thresholds{Success: 2, Failure: 3, Interval: 10 * time.Second}}
	cases := []struct {
		name   string
		plan   gate.Plan
		isTrue bool
		want   string
	}{
		{"write", gate.Plan{Write: &corev1.PodCondition{Status: corev1.ConditionTrue, Reason: "ExpressionTrue", Message: "ok"}}, false, "would write True (ExpressionTrue): ok"},
		{"stale", gate.Plan{State: gate.State{Stale: true}}, true, "keeps the gate True on its last good result"},
		{"failure streak on a True gate", gate.Plan{State: gate.State{Counters: gate.Counters{Failures: 1}}}, true, "keeps the gate: 1 of 3 consecutive false results needed to turn it False, one per interval (10s)"},
		{"failures on a False gate are no streak", gate.Plan{State: gate.State{Counters: gate.Counters{Failures: 1}}}, false, "keeps the gate as it is"},
		{"success streak on a False gate", gate.Plan{State: gate.State{Counters: gate.Counters{Successes: 1}}}, false, "keeps the gate: 1 of 2 consecutive true results needed to turn it True"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := describePlan(tc.plan, s, tc.isTrue); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAPIServerStatus(t *testing.T) {
	status := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"address not allowed","code":400}`
	cases := []struct {
		name string
		r    proxied
		want bool
	}{
		{"the API server refuses the address", proxied{status: 400, body: []byte(status)}, true},
		{"the pod answers 400 with its own body", proxied{status: 400, body: []byte(`{"error":"bad"}`)}, false},
		{"the pod answers 200 with a Status-like body", proxied{status: 200, body: []byte(status)}, false},
		{"a Status whose code is not the response's", proxied{status: 503, body: []byte(status)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := apiServerStatus(&tc.r); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPodName(t *testing.T) {
	for arg, want := range map[string]string{"web-0": "web-0", "pod/web-0": "web-0", "pods/web-0": "web-0", "po/web-0": "web-0"} {
		if got, err := podName(arg); err != nil || got != want {
			t.Errorf("podName(%q) = %q, %v; want %q", arg, got, err, want)
		}
	}
	for _, arg := range []string{"deploy/web", "pod/"} {
		if _, err := podName(arg); err == nil {
			t.Errorf("podName(%q) accepted", arg)
		}
	}
}

func TestMarkHeldFlips(t *testing.T) {
	turnedTrue := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: "x.io/a", Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(turnedTrue)},
		{Type: "x.io/b", Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(turnedTrue)},
	}}}
	event := func(name string, at time.Time) corev1.Event {
		return corev1.Event{Reason: gate.EventFlipDeferred, Message: "policy " + name + " would set x.io/a to False", LastTimestamp: metav1.NewTime(at)}
	}
	verdicts := []PolicyVerdict{
		{Name: "a", ConditionType: "x.io/a", Role: RoleGates},
		{Name: "b", ConditionType: "x.io/b", Role: RoleGates},
	}
	markHeldFlips(verdicts, pod, []corev1.Event{event("a", turnedTrue.Add(-time.Minute))}, turnedTrue.Add(time.Hour))
	if verdicts[0].HeldFlip != "" {
		t.Errorf("an Event from before the gate turned True marks a held flip: %q", verdicts[0].HeldFlip)
	}
	markHeldFlips(verdicts, pod, []corev1.Event{event("a", turnedTrue.Add(time.Minute)), event("b", turnedTrue.Add(time.Minute))}, turnedTrue.Add(2*time.Minute))
	if !strings.HasPrefix(verdicts[0].HeldFlip, "policy a would set") || !strings.HasSuffix(verdicts[0].HeldFlip, "(60s ago)") {
		t.Errorf("held flip of a: %q", verdicts[0].HeldFlip)
	}
	if verdicts[1].HeldFlip != "" {
		t.Errorf("a False gate has no held flip: %q", verdicts[1].HeldFlip)
	}
}

func TestTextEscapesControlCharacters(t *testing.T) {
	var b strings.Builder
	tw := &textWriter{w: &b}
	tw.printf("message: %s\n", "warm\x1b[2J\x1b]0;owned\x07 done\nnext")
	if got, want := b.String(), "message: warm\\x1b[2J\\x1b]0;owned\\a done\\nnext\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJSONEscapesWhatActsOnTheText: -o json is read in terminals too, and
// encoding/json leaves C1 controls (U+009B is CSI) and bidirectional
// overrides as they are. Escaped, they are the same text to a program.
func TestJSONEscapesWhatActsOnTheText(t *testing.T) {
	in := map[string]string{"message": "ok\u009b2J\u009d52;c;eA==\u009c \u202edoog\U000e0041 ünïcode ✓"}
	var b strings.Builder
	if err := printJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if strings.ContainsFunc(got, func(r rune) bool { return r > 0x7f && unprintable(r) }) {
		t.Errorf("raw C1 or format characters in %q", got)
	}
	if !strings.HasPrefix(got, "{\n  \"message\": ") || !strings.Contains(got, "ünïcode ✓") {
		t.Errorf("layout or printable text changed: %q", got)
	}
	var back map[string]string
	if err := json.Unmarshal([]byte(got), &back); err != nil || back["message"] != in["message"] {
		t.Errorf("read back %q (%v), want %q", back["message"], err, in["message"])
	}
}

// TestLongValueIsCutBetweenCharacters: a value cut in the middle of a
// character would show a stray byte.
func TestLongValueIsCutBetweenCharacters(t *testing.T) {
	var b strings.Builder
	tw := &textWriter{w: &b}
	tw.printf("%s\n", valueText(strings.Repeat("é", maxValueText), ""))
	if got := b.String(); !utf8.ValidString(got) || strings.Contains(got, `\x`) || !strings.HasSuffix(got, "é…\n") {
		t.Errorf("got %q", got[max(0, len(got)-12):])
	}
}

// TestPrometheusAddressOfAnUnacceptedPolicy: the plugin never queries an
// address a tenant wrote that the operator has not accepted (198.51.100.0/24
// is data only: reaching the request would fail the test by its message).
func TestPrometheusAddressOfAnUnacceptedPolicy(t *testing.T) {
	p, err := loadPolicy("testdata/prometheus-policy.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Sources.Prometheus.Address = "http://198.51.100.9:9090"
	env, err := podschema.CELEnv()
	if err != nil {
		t.Fatal(err)
	}
	c := policy.Compile(env, p, true, nil)
	var g gathered
	(&liveSources{}).prometheus(context.Background(), &g, c, &corev1.Pod{}, false)
	if g.instead == nil || g.instead.Outcome != gate.OutcomePending || len(g.shown) != 1 || !strings.Contains(g.shown[0].Error, "give --prometheus-url") {
		t.Fatalf("the source was not refused: instead %+v, shown %+v", g.instead, g.shown)
	}
}
