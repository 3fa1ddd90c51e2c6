package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/internal/testenv"
)

const (
	// promotedExpression is true for a pod labelled promoted=yes.
	promotedExpression = "pod.metadata.labels.?promoted.orValue('') == 'yes'"
	// followMargin is how long, past a takeover, a gate may take to follow
	// its expression on this shared, loaded machine.
	followMargin = 10 * time.Second
	// injectWebhook is the injector's name in config/webhook, as the API
	// server's metrics label it.
	injectWebhook = `name="inject.readygate.io"`
	// webhookTimeout is timeoutSeconds of the injector in config/webhook;
	// a call the API server waits on until it fails reaches past
	// slowWebhookBucket, the histogram's bucket just under it.
	slowWebhookBucket = `le="2.5"`
)

// Issue 14: two replicas elect a leader and both serve the webhooks; the
// leader is SIGKILLed.
var _ = Describe("two replicas", func() {
	It("keep gates flipping within the lease duration and admit every pod when the leader is SIGKILLed", func(ctx SpecContext) {
		const ns = "ha"
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"readygate.io/inject": "enabled"}}})).To(Succeed())
		createOperatorNamespace(ctx)
		// The suite's manager would gate the same pods: it steps aside.
		testenv.StopProcess(manager, 10*time.Second)
		DeferCleanup(startSuiteManager)
		webhookCalls := apiserverWebhookCalls(ctx)

		caBundle, certDir := writeWebhookCert()
		a, b := startReplica(certDir), startReplica(certDir)
		service := startServiceProxy()
		service.followReadiness(a, b)
		installWebhooks(ctx, "https://"+service.addr(), caBundle, ns)
		// As kube-proxy, the Service routes to a replica a moment after it
		// is ready; until then the API server's webhook calls fail.
		Eventually(service.routesTo).Should(Equal(2))
		Eventually(leaderOf(a, b)).ShouldNot(BeNil())
		leader, standby := a, b
		if !a.leading() {
			leader, standby = b, a
		}
		policy := hostilePolicy(ns, "ha", promotedExpression)
		Expect(k8s.Create(ctx, policy)).To(Succeed())
		Eventually(acceptedCondition(ctx, policy)).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(dryRunGates(ctx, ns, "ha")).Should(ConsistOf(gateType))

		By("pods are created all along, gated by the injector")
		creator := startCreating(ns, "ha")
		Eventually(creator.created).Should(BeNumerically(">=", 5))
		first := types.NamespacedName{Namespace: ns, Name: "ha-0"}
		Eventually(gateOf(ctx, first)).Should(Equal(corev1.ConditionFalse))

		By("SIGKILL the leader, then promote a pod")
		killed := time.Now()
		leader.kill()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: first.Name}}
		Expect(k8s.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"promoted":"yes"}}}`)))).To(Succeed())
		Eventually(gateOf(ctx, first)).WithTimeout(leaseDuration+retryPeriod+followMargin).Should(Equal(corev1.ConditionTrue),
			"OPERATOR BUG: no gate flipped within the lease duration of the leader's death")
		flipped := time.Since(killed)
		Expect(standby.leading()).To(BeTrue())
		seen := creator.created()
		Eventually(creator.created).Should(BeNumerically(">=", seen+10))
		creations := creator.stop()

		By("every pod was admitted at once; those created after the dead replica left the Service got their gate")
		gone := service.removedAt(leader.webhookAddr)
		Expect(gone).NotTo(BeZero(), "the dead replica never left the Service")
		var missed, inWindow int
		var slowest time.Duration
		for _, c := range creations {
			Expect(c.err).NotTo(HaveOccurred(), "creating %s", c.name)
			slowest = max(slowest, c.took)
			if c.start.Before(gone) && c.start.Add(c.took).After(killed) {
				inWindow++
			}
			if !c.gated {
				missed++
				Expect(c.start.Before(gone)).To(BeTrue(),
					"OPERATOR BUG: %s was created at %s, after the dead replica left the Service (%s), without its gate", c.name, c.start, gone)
			}
		}
		calls := webhookCalls()
		Expect(calls.failedOpen).To(BeEquivalentTo(missed),
			"pods without their gate that the API server did not fail open for: a replica answered without the gate")
		Expect(calls.slow).To(BeZero(), "the API server waited %s or more on the injector: a dead webhook was waited on", slowWebhookBucket)
		for _, c := range creations {
			want := corev1.ConditionFalse
			if c.name == first.Name {
				want = corev1.ConditionTrue
			}
			if c.gated {
				Eventually(gateOf(ctx, types.NamespacedName{Namespace: ns, Name: c.name})).Should(Equal(want))
			}
		}
		report := fmt.Sprintf("leader SIGKILLed: gate flipped %s after the kill (lease %s, retry %s); "+
			"dead replica out of the Service after %s; %d pods created, %d while a creation could reach the dead replica, %d without their gate "+
			"(the API server failed open %.0f times, waited ≥2.5s %.0f times); slowest creation %s",
			flipped.Round(time.Millisecond), leaseDuration, retryPeriod, gone.Sub(killed).Round(time.Millisecond),
			len(creations), inWindow, missed, calls.failedOpen, calls.slow, slowest.Round(time.Millisecond))
		AddReportEntry("leader killed", report)
		GinkgoWriter.Println(report)
	})
})

// installWebhooks installs config/webhook's configurations pointed at base,
// for namespace ns alone, until the spec ends.
func installWebhooks(ctx SpecContext, base string, caBundle []byte, ns string) {
	mutating, validating := webhookConfigurations(base, caBundle, ns)
	Expect(k8s.Create(ctx, mutating)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, mutating)).To(Succeed()) })
	Expect(k8s.Create(ctx, validating)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, validating)).To(Succeed()) })
}

// dryRunGates are the readiness gates a dry-run pod labelled app gets.
func dryRunGates(ctx SpecContext, ns, app string) func() []string {
	return func() []string {
		probe := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns, Labels: map[string]string{"app": app}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		}
		if err := k8s.Create(ctx, probe, client.DryRunAll); err != nil {
			return nil
		}
		return testenv.ReadinessGates(probe)
	}
}

// gateOf is the status of a pod's gate, Unknown while it has none.
func gateOf(ctx SpecContext, key types.NamespacedName) func() corev1.ConditionStatus {
	return func() corev1.ConditionStatus {
		c, err := podCondition(ctx, key, gateType)
		switch {
		case err != nil:
			return ""
		case c == nil:
			return corev1.ConditionUnknown
		}
		return c.Status
	}
}

// creation is one pod created by a podCreator.
type creation struct {
	name  string
	start time.Time
	took  time.Duration
	err   error
	gated bool // the API server's answer carries the injected gate
}

// podCreator creates pods labelled app, one after another, until stopped.
type podCreator struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	creations []creation
}

// creationPause spaces the creations: about ten a second.
const creationPause = 100 * time.Millisecond

func startCreating(ns, app string) *podCreator {
	ctx, cancel := context.WithCancel(context.Background())
	c := &podCreator{cancel: cancel, done: make(chan struct{})}
	DeferCleanup(c.stop)
	go func() {
		defer close(c.done)
		for i := 0; ctx.Err() == nil; i++ {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", app, i), Namespace: ns, Labels: map[string]string{"app": app}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			}
			start := time.Now()
			err := k8s.Create(context.Background(), pod) // not ctx: a creation under way when stopped completes
			c.mu.Lock()
			c.creations = append(c.creations, creation{name: pod.Name, start: start, took: time.Since(start), err: err,
				gated: len(testenv.ReadinessGates(pod)) > 0})
			c.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(creationPause):
			}
		}
	}()
	return c
}

func (c *podCreator) created() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.creations)
}

// stop ends the creations and returns them; it may be called again.
func (c *podCreator) stop() []creation {
	c.cancel()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creations
}

// webhookCalls is what the API server's own metrics say about its calls
// to the injector since a spec began.
type webhookCalls struct {
	failedOpen float64 // calls that failed and were ignored (failurePolicy: Ignore)
	slow       float64 // calls that took slowWebhookBucket or longer
}

// apiserverWebhookCalls reads the API server's injector metrics now and
// returns a function that reads how they grew since.
func apiserverWebhookCalls(ctx SpecContext) func() webhookCalls {
	clientset, err := kubernetes.NewForConfig(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	read := func() webhookCalls {
		raw, err := clientset.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		Expect(err).NotTo(HaveOccurred())
		series := func(name string, labels ...string) float64 {
			v, err := sumSeries(bytes.NewReader(raw), name, labels...)
			if errors.Is(err, errNoSeries) {
				return 0 // not called, or never failed, since the API server started
			}
			Expect(err).NotTo(HaveOccurred())
			return v
		}
		const duration = "apiserver_admission_webhook_admission_duration_seconds"
		return webhookCalls{
			failedOpen: series("apiserver_admission_webhook_fail_open_count", injectWebhook),
			slow:       series(duration+"_count", injectWebhook) - series(duration+"_bucket", injectWebhook, slowWebhookBucket),
		}
	}
	before := read()
	return func() webhookCalls {
		now := read()
		return webhookCalls{failedOpen: now.failedOpen - before.failedOpen, slow: now.slow - before.slow}
	}
}
