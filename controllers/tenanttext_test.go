package controllers_test

import (
	"strings"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/gate"
)

// A message is the tenant's text, and CEL can make it bytes that are not
// UTF-8: url().getQuery() decodes %FF as the byte 0xFF. The JSON of the
// pod's status patch turns each such byte into a three-byte replacement
// character, past the 1,024 bytes a message may take; the Events, sent as
// protobuf, kept the bytes for every reader to stumble on.
var _ = It("writes a message that is not UTF-8 as valid UTF-8 within the bound, on the pod and in its Event", func(ctx SpecContext) {
	ns := newNamespace(ctx)
	pods := createPods(ctx, ns, "web", 1, withGates(warmGate))
	Expect(k8s.Create(ctx, newPolicy(ns, "bytes", "has(pod.metadata.labels.warm)", func(p *v1alpha1.ReadinessGatePolicy) {
		p.Spec.MessageExpression = "url('http://x/?m=" + strings.Repeat("%FF", 1200) + "').getQuery()['m'][0]"
	}))).To(Succeed())
	Eventually(statusOf(ctx, pods[0])).Should(Equal(corev1.ConditionFalse))
	setWarm(ctx, pods[0], "true")
	bounded := And(Satisfy(utf8.ValidString), WithTransform(func(s string) int { return len(s) }, BeNumerically("<=", gate.MaxMessageBytes)))
	Eventually(gateOf(ctx, pods[0])).Should(And(HaveField("Status", corev1.ConditionTrue), HaveField("Message", bounded)))
	Eventually(eventReasons(ctx, ns, pods[0].Name)).ShouldNot(BeEmpty())
	Expect(eventsAbout(ctx, ns, pods[0].Name)).To(HaveEach(HaveField("Note", bounded)))
})
