package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/testenv"
)

const (
	// memoryLimit is limits.memory of config/manager/manager.yaml: past it
	// the kubelet kills the operator.
	memoryLimit = 256 << 20
	// goMemLimit leaves the runtime headroom under memoryLimit, as a
	// deployment that sets GOMEMLIMIT from the limit would.
	goMemLimit = "200MiB"
	// attackTime is how long every attack runs at once.
	attackTime = time.Minute
	// victimFollows bounds how long the victim's gates may take to follow
	// their expression while the attacks run.
	victimFollows = 15 * time.Second
	// templateBomb is issue 12's 107-character query that grew the operator
	// past 3 GiB when queries were Go templates.
	templateBomb = `{{range 100000000}}{{range 100000000}}{{range 100000000}}{{range 100000000}}x{{end}}{{end}}{{end}}{{end}}`
	// onlyNamespace is how a query with template syntax is refused.
	onlyNamespace = "only {{ .Namespace }} may be substituted"
)

// Issue 12's hostile-tenant check (design rules 15-18): every attack a
// tenant can mount, at once, for a minute, against the manager binary run
// as the default deployment runs it, while another namespace's gates must
// keep following their expression.
var _ = Describe("a hostile tenant", func() {
	It("neither grows the manager past its memory limit nor starves another namespace's gates", func(ctx SpecContext) {
		// An attacker may own several namespaces: each attack gets its own, so
		// that one attack's share of the fetch workers does not hold up the next.
		prom, pitNS, scrapeNS, jobNS := "hostile-prometheus", "hostile-tarpits", "hostile-scrapes", "hostile-job"
		attackers := []string{prom, pitNS, scrapeNS, jobNS}
		dryRun, victim := "hostile-dryrun", "hostile-victim"
		for _, ns := range append([]string{dryRun, victim}, attackers...) {
			Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		}

		// The attacker's Prometheus servers, allowed by --prometheus-allowed-urls.
		huge := testenv.StartHugePrometheus(300 << 20)
		DeferCleanup(huge.Close)
		var redirectHits atomic.Int64
		redirectTarget := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { redirectHits.Add(1) }))
		DeferCleanup(redirectTarget.Close)
		redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirectTarget.URL+"/steal", http.StatusTemporaryRedirect)
		}))
		DeferCleanup(redirecting.Close)

		By("running the manager as deployed: GOMEMLIMIT under the memory limit, webhooks on")
		webhookAddr := freeLoopbackAddr()
		_, webhookPort, err := net.SplitHostPort(webhookAddr)
		Expect(err).NotTo(HaveOccurred())
		caBundle, certDir := writeWebhookCert()
		probeAddr := freeLoopbackAddr()
		// The suite's manager would gate the same pods: it steps aside for
		// this spec and comes back after it.
		testenv.StopProcess(manager, 10*time.Second)
		hostile := startManager([]string{"GOMEMLIMIT=" + goMemLimit},
			"--metrics-bind-address="+freeLoopbackAddr(), "--health-probe-bind-address="+probeAddr,
			"--webhook-port="+webhookPort, "--webhook-cert-dir="+certDir,
			"--prometheus-allowed-urls="+huge.URL+"/,"+redirecting.URL+"/")
		DeferCleanup(func() {
			testenv.StopProcess(hostile, 10*time.Second)
			startSuiteManager()
		})
		rss := sampleRSS(hostile.Process.Pid, 500*time.Millisecond)
		DeferCleanup(func() { rss.stop() }) // idempotent: also stopped, and read, at the end
		Eventually(httpStatus("http://" + probeAddr + "/readyz")).Should(Equal(http.StatusOK))
		installPolicyWebhook(ctx, "https://"+webhookAddr, caBundle, dryRun)
		// Registered after the manager so that it runs before the manager
		// stops: the finalizers are the hostile manager's to remove, and the
		// suite's manager must not inherit the attack.
		DeferCleanup(func(ctx SpecContext) {
			for _, ns := range append([]string{victim}, attackers...) {
				Expect(k8s.DeleteAllOf(ctx, &v1alpha1.ReadinessGatePolicy{}, client.InNamespace(ns))).To(Succeed())
				Eventually(policiesIn(ctx, ns)).Should(BeEmpty())
			}
		})

		By("a template bomb is refused without running it")
		bomb := hostilePolicy(prom, "bomb", "prometheus.x == 1.0", func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
				Address: huge.URL, Queries: []v1alpha1.PrometheusQuery{{Name: "x", Query: templateBomb}}}}
		})
		Expect(k8s.Create(ctx, bomb)).To(Succeed())
		Eventually(acceptedCondition(ctx, bomb)).Should(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Message", ContainSubstring(onlyNamespace))))

		By("the victim's gates follow their http endpoints")
		victims, victimServers := make([]*corev1.Pod, 0, 3), make([]*testenv.PodServer, 0, 3)
		for i := range 3 {
			pod, srv := gatedPodWithServer(ctx, victim, fmt.Sprintf("victim-%d", i), "victim", fmt.Sprintf("127.0.212.%d", i+1))
			srv.Answer(http.StatusOK, "text/plain", "ok")
			victims, victimServers = append(victims, pod), append(victimServers, srv)
		}
		Expect(k8s.Create(ctx, hostilePolicy(victim, "victim", "http.statusCode == 200", withHTTPSource(300*time.Millisecond)))).To(Succeed())
		Eventually(gateStatuses(ctx, victims)).Should(HaveEach(corev1.ConditionTrue))

		By("the attacker's Prometheus answers 300 MiB, or redirects")
		gatedPodWithServer(ctx, prom, "huge", "huge", "127.0.213.1")
		Expect(k8s.Create(ctx, hostilePolicy(prom, "huge", "prometheus.x == 1.0", withPrometheus(huge.URL)))).To(Succeed())
		gatedPodWithServer(ctx, prom, "redirect", "redirect", "127.0.213.2")
		Expect(k8s.Create(ctx, hostilePolicy(prom, "redirect", "prometheus.x == 1.0", withPrometheus(redirecting.URL)))).To(Succeed())

		By("the attacker's pods are tarpits, or serve 10 MiB scrapes")
		const tarpits, scrapers = 40, 8
		pits := make([]*testenv.PodServer, 0, tarpits)
		for i := range tarpits {
			_, srv := gatedPodWithServer(ctx, pitNS, fmt.Sprintf("pit-%d", i), "pit", fmt.Sprintf("127.0.210.%d", i+1))
			srv.Delay(time.Hour) // accepts, never answers: the fetch waits for its timeout
			pits = append(pits, srv)
		}
		Expect(k8s.Create(ctx, hostilePolicy(pitNS, "pit", "http.statusCode == 200", withHTTPSource(30*time.Second)))).To(Succeed())
		scrapes := make([]*testenv.PodServer, 0, scrapers)
		bigScrape := metricsText(10<<20 + 1)
		for i := range scrapers {
			_, srv := gatedPodWithServer(ctx, scrapeNS, fmt.Sprintf("scrape-%d", i), "scrape", fmt.Sprintf("127.0.211.%d", i+1))
			srv.Answer(http.StatusOK, "text/plain; version=0.0.4", bigScrape)
			scrapes = append(scrapes, srv)
		}
		Expect(k8s.Create(ctx, hostilePolicy(scrapeNS, "scrape", `metrics.value("filler_total") >= 0.0`, func(p *v1alpha1.ReadinessGatePolicy) {
			p.Spec.Sources = &v1alpha1.Sources{Metrics: &v1alpha1.MetricsSource{PodEndpoint: v1alpha1.PodEndpoint{
				Port: intstr.FromString("http"), Path: "/metrics", Timeout: &metav1.Duration{Duration: 5 * time.Second}}}}
		}))).To(Succeed())
		// One more scraped pod answers in protobuf, which the scrape never
		// asks for, with a length of 2^62 bytes: expfmt allocated it, and
		// the panic took the whole manager down.
		_, bombServer := gatedPodWithServer(ctx, scrapeNS, "scrape-protobuf", "scrape", fmt.Sprintf("127.0.211.%d", scrapers+1))
		bombServer.Answer(http.StatusOK, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
			"\x80\x80\x80\x80\x80\x80\x80\x80\x40")
		scrapes = append(scrapes, bombServer)
		Eventually(totalRequests(pits)).Should(BeNumerically(">=", 4), "the tarpits hold fetches")
		Eventually(totalRequests(scrapes)).Should(BeNumerically(">=", scrapers), "the scrapes are fetched")
		Eventually(bombServer.Requests).Should(BeNumerically(">=", 1), "the protobuf answer is fetched")
		Eventually(huge.Answers.Load).Should(BeNumerically(">=", 1), "the 300 MiB Prometheus is queried")

		By("a finished pod, whose IP is back in the pool, is dialled no more")
		job, jobServer := gatedPodWithServer(ctx, jobNS, "job", "job", "127.0.213.3")
		jobServer.Answer(http.StatusOK, "text/plain", "ok")
		Expect(k8s.Create(ctx, hostilePolicy(jobNS, "job", "http.statusCode == 200", withHTTPSource(300*time.Millisecond)))).To(Succeed())
		Eventually(gateStatuses(ctx, []*corev1.Pod{job})).Should(HaveEach(corev1.ConditionTrue))
		finished := job.DeepCopy()
		finished.Status.Phase = corev1.PodSucceeded
		Expect(k8s.Status().Patch(ctx, finished, client.MergeFrom(job))).To(Succeed())
		// A fetch already under way when the pod finished may still land:
		// the pod is polled every second, so three quiet seconds mean its
		// targets were dropped, and from then on it must get nothing.
		Expect(jobServer.WaitQuiet(3*time.Second, 20*time.Second)).To(Succeed())
		jobRequests := jobServer.Requests()

		By(fmt.Sprintf("for %s: dry-run creates with new names, while the victim's expression flips", attackTime))
		attack, stopAttack := context.WithTimeout(ctx, attackTime)
		defer stopAttack()
		var dryRuns dryRunCounts
		var creators sync.WaitGroup
		for w := range 2 {
			creators.Go(func() { createDryRunPolicies(attack, dryRun, w, &dryRuns) })
		}
		flips, slowest := 0, time.Duration(0)
		healthy := true
		for attack.Err() == nil {
			healthy = !healthy
			took := flipVictims(ctx, victims, victimServers, healthy)
			flips, slowest = flips+1, max(slowest, took)
		}
		creators.Wait()
		if !healthy {
			flipVictims(ctx, victims, victimServers, true)
		}

		By("afterwards the manager is alive, within its memory, and still gating the victim")
		maxRSS, lastRSS := rss.stop()
		GinkgoWriter.Printf("hostile tenant: manager RSS max %.1f MiB, final %.1f MiB (limit %d MiB, GOMEMLIMIT=%s); "+
			"victim flips %d, slowest follow %s; dry-run creates %d admitted, %d bombs denied; "+
			"Prometheus 300 MiB answers %d, largest written %.1f MiB; tarpit fetches %d; scrapes %d; redirect target hits %d\n",
			float64(maxRSS)/(1<<20), float64(lastRSS)/(1<<20), memoryLimit>>20, goMemLimit,
			flips, slowest, dryRuns.admitted.Load(), dryRuns.denied.Load(),
			huge.Answers.Load(), float64(huge.Largest.Load())/(1<<20), totalRequests(pits)(), totalRequests(scrapes)(), redirectHits.Load())
		Expect(hostile.ProcessState).To(BeNil(), "the manager exited during the attack")
		Expect(hostile.Process.Signal(syscall.Signal(0))).To(Succeed(), "the manager is gone")
		Expect(maxRSS).To(BeNumerically("<", memoryLimit),
			"OPERATOR BUG: the manager's RSS reached %.1f MiB, over the %d MiB memory limit it is deployed with", float64(maxRSS)/(1<<20), memoryLimit>>20)
		Expect(httpStatus("http://" + probeAddr + "/healthz")()).To(Equal(http.StatusOK))
		for _, healthy := range []bool{false, true} {
			flipVictims(ctx, victims, victimServers, healthy)
		}
		Expect(dryRuns.unexpected.Load()).To(BeZero(), "dry-run creates the webhook answered wrongly: last %v", dryRuns.lastUnexpected.Load())
		Expect(dryRuns.admitted.Load()).To(BeNumerically(">", 0))
		Expect(redirectHits.Load()).To(BeZero(), "the redirect was followed")
		// The operator reads at most sources.MaxPrometheusBytes; sockets buffer a little past it.
		Expect(huge.Largest.Load()).To(BeNumerically("<", 64<<20), "a 300 MiB answer was read far past the cap")
		Expect(jobServer.Requests()).To(Equal(jobRequests), "the finished pod's IP was dialled")
		Expect(acceptedCondition(ctx, bomb)()).To(HaveField("Status", metav1.ConditionFalse))
	})
})

// metricsText is a Prometheus exposition of at least size bytes.
func metricsText(size int) string {
	var b strings.Builder
	b.Grow(size + 64)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "filler_total{i=\"%d\"} 1\n", i)
	}
	return b.String()
}

// rssSampler keeps the largest and the latest VmRSS of a process.
type rssSampler struct {
	maxRSS, lastRSS atomic.Int64
	once            sync.Once
	cancel          context.CancelFunc
	done            chan struct{}
}

// sampleRSS reads the process's VmRSS every interval until stop.
func sampleRSS(pid int, interval time.Duration) *rssSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &rssSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			rss, err := vmRSS(pid)
			if err != nil {
				return // the process is gone: the spec's liveness check says so
			}
			s.lastRSS.Store(rss)
			if rss > s.maxRSS.Load() {
				s.maxRSS.Store(rss)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest and the latest RSS in bytes.
func (s *rssSampler) stop() (maxRSS, lastRSS int64) {
	s.once.Do(func() {
		s.cancel()
		<-s.done
	})
	return s.maxRSS.Load(), s.lastRSS.Load()
}

// vmRSS is the resident set size of a process in bytes, as the kernel (and
// so the memory limit) counts it.
func vmRSS(pid int) (int64, error) {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// writeWebhookCert writes a self-signed serving certificate for 127.0.0.1
// where the manager's --webhook-cert-dir reads it, and returns its CA bundle.
func writeWebhookCert() (caBundle []byte, dir string) {
	cert, key, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	Expect(err).NotTo(HaveOccurred())
	dir = GinkgoT().TempDir()
	Expect(os.WriteFile(filepath.Join(dir, "tls.crt"), cert, 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600)).To(Succeed())
	return cert, dir
}

// installPolicyWebhook installs config/webhook's policy validation, pointed
// at the manager's webhook server at base, for namespace ns alone: the rest
// of the suite runs without webhooks. It returns once the webhook answers.
func installPolicyWebhook(ctx SpecContext, base string, caBundle []byte, ns string) {
	_, validating := webhookConfigurations(base, caBundle, ns)
	Expect(k8s.Create(ctx, validating)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(k8s.Delete(ctx, validating)).To(Succeed()) })
	Eventually(func() error {
		return k8s.Create(ctx, bombPolicy(ns, "webhook-probe"), client.DryRunAll)
	}).Should(MatchError(ContainSubstring(onlyNamespace)))
}

// webhookConfigurations reads config/webhook's configurations and points
// every webhook at the server at base, trusted by caBundle, for namespace
// ns alone.
func webhookConfigurations(base string, caBundle []byte, ns string) (
	*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	manifests, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var mutating *admissionregistrationv1.MutatingWebhookConfiguration
	var validating *admissionregistrationv1.ValidatingWebhookConfiguration
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		var typeMeta metav1.TypeMeta
		Expect(yaml.Unmarshal(doc, &typeMeta)).To(Succeed())
		switch typeMeta.Kind {
		case "MutatingWebhookConfiguration":
			mutating = &admissionregistrationv1.MutatingWebhookConfiguration{}
			Expect(yaml.UnmarshalStrict(doc, mutating)).To(Succeed())
		case "ValidatingWebhookConfiguration":
			validating = &admissionregistrationv1.ValidatingWebhookConfiguration{}
			Expect(yaml.UnmarshalStrict(doc, validating)).To(Succeed())
		}
	}
	Expect(mutating).NotTo(BeNil(), "config/webhook/manifests.yaml has no MutatingWebhookConfiguration")
	Expect(validating).NotTo(BeNil(), "config/webhook/manifests.yaml has no ValidatingWebhookConfiguration")
	mutating.Name, validating.Name = ns+"-"+mutating.Name, ns+"-"+validating.Name
	onlyNS := &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
	for i := range mutating.Webhooks {
		w := &mutating.Webhooks[i]
		w.ClientConfig, w.NamespaceSelector = pointAt(base, w.ClientConfig, caBundle), onlyNS
	}
	for i := range validating.Webhooks {
		w := &validating.Webhooks[i]
		w.ClientConfig, w.NamespaceSelector = pointAt(base, w.ClientConfig, caBundle), onlyNS
	}
	return mutating, validating
}

// pointAt is a webhook's client configuration with the URL at base instead
// of the Service.
func pointAt(base string, cc admissionregistrationv1.WebhookClientConfig, caBundle []byte) admissionregistrationv1.WebhookClientConfig {
	url := base + *cc.Service.Path
	return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
}

// dryRunCounts tallies how the webhook answered the dry-run creates.
type dryRunCounts struct {
	admitted, denied, unexpected atomic.Int64
	lastUnexpected               atomic.Value
}

// createDryRunPolicies dry-run creates policies with new names until ctx
// ends, every other one a template bomb: each new name (and UID) is a new
// entry for any cache keyed by policy, and each bomb must be denied.
func createDryRunPolicies(ctx context.Context, ns string, worker int, counts *dryRunCounts) {
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("dry-%d-%d", worker, i)
		if i%2 == 0 {
			err := k8s.Create(ctx, hostilePolicy(ns, name, "pod.metadata.labels.?ready.orValue('') == 'yes'"), client.DryRunAll)
			if attackOver(err) {
				return
			}
			switch {
			case err == nil:
				counts.admitted.Add(1)
			case ctx.Err() == nil:
				counts.unexpected.Add(1)
				counts.lastUnexpected.Store(err)
			}
			continue
		}
		err := k8s.Create(ctx, bombPolicy(ns, name), client.DryRunAll)
		if attackOver(err) {
			return
		}
		switch {
		case err != nil && strings.Contains(err.Error(), onlyNamespace):
			counts.denied.Add(1)
		case err == nil:
			counts.unexpected.Add(1)
			counts.lastUnexpected.Store(errors.New("template bomb " + name + " admitted"))
		case ctx.Err() == nil:
			counts.unexpected.Add(1)
			counts.lastUnexpected.Store(fmt.Errorf("template bomb %s: %w", name, err))
		}
	}
}

// attackOver recognises the test client's own rate limiter refusing a wait
// that would cross the attack's deadline: the attack is over, and the
// request never reached the webhook, so it says nothing of its answers.
func attackOver(err error) bool {
	return err != nil && strings.Contains(err.Error(), "would exceed context deadline")
}

// flipVictims makes the victims' endpoints healthy or not and waits, within
// victimFollows, for every gate to follow; it returns how long that took.
func flipVictims(ctx SpecContext, pods []*corev1.Pod, servers []*testenv.PodServer, healthy bool) time.Duration {
	status, want := http.StatusServiceUnavailable, corev1.ConditionFalse
	if healthy {
		status, want = http.StatusOK, corev1.ConditionTrue
	}
	start := time.Now()
	for _, srv := range servers {
		srv.Answer(status, "text/plain", http.StatusText(status))
	}
	Eventually(gateStatuses(ctx, pods)).WithTimeout(victimFollows).Should(HaveEach(want),
		"OPERATOR BUG: the victim's gates did not follow their expression to %s within %s while a tenant attacked", want, victimFollows)
	return time.Since(start)
}

// gatedPodWithServer creates a pod labelled app, gated by gateType, on ip,
// with a real HTTP server behind it on port 8080 (named "http").
func gatedPodWithServer(ctx SpecContext, ns, name, app, ip string) (*corev1.Pod, *testenv.PodServer) {
	srv, err := testenv.StartPodServer(ip, 8080)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app},
			Annotations: map[string]string{testenv.AnnotationPodIP: ip}},
		Spec: corev1.PodSpec{
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gateType}},
			Containers: []corev1.Container{{Name: "app", Image: "app:1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}},
		},
	}
	Expect(k8s.Create(ctx, pod)).To(Succeed())
	return pod, srv
}

// hostilePolicy gates pods labelled app=name, polled every second, and lets
// every gate flip at once: the victim's three flip together.
func hostilePolicy(ns, name, expression string, mutate ...func(*v1alpha1.ReadinessGatePolicy)) *v1alpha1.ReadinessGatePolicy {
	all := intstr.FromString("100%")
	p := &v1alpha1.ReadinessGatePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ReadinessGatePolicySpec{
			Selector:         metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			ConditionType:    gateType,
			Expression:       expression,
			Interval:         &metav1.Duration{Duration: time.Second},
			FailureThreshold: 1,
			MaxUnavailable:   &all,
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// bombPolicy queries an allowed-looking Prometheus with the template bomb.
func bombPolicy(ns, name string) *v1alpha1.ReadinessGatePolicy {
	return hostilePolicy(ns, name, "prometheus.x == 1.0", withPrometheus("http://127.0.0.1:9090"), func(p *v1alpha1.ReadinessGatePolicy) {
		p.Spec.Sources.Prometheus.Queries[0].Query = templateBomb
	})
}

func withHTTPSource(timeout time.Duration) func(*v1alpha1.ReadinessGatePolicy) {
	return func(p *v1alpha1.ReadinessGatePolicy) {
		p.Spec.Sources = &v1alpha1.Sources{HTTP: &v1alpha1.HTTPSource{PodEndpoint: v1alpha1.PodEndpoint{
			Port: intstr.FromString("http"), Path: "/ready", Timeout: &metav1.Duration{Duration: timeout}}}}
	}
}

func withPrometheus(address string) func(*v1alpha1.ReadinessGatePolicy) {
	return func(p *v1alpha1.ReadinessGatePolicy) {
		p.Spec.Sources = &v1alpha1.Sources{Prometheus: &v1alpha1.PrometheusSource{
			Address: address, Queries: []v1alpha1.PrometheusQuery{{Name: "x", Query: "up"}}}}
	}
}

// gateStatuses reads the gate of each pod, for Eventually.
func gateStatuses(ctx SpecContext, pods []*corev1.Pod) func() ([]corev1.ConditionStatus, error) {
	return func() ([]corev1.ConditionStatus, error) {
		out := make([]corev1.ConditionStatus, 0, len(pods))
		for _, pod := range pods {
			got := &corev1.Pod{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
				return nil, err
			}
			status := corev1.ConditionUnknown
			for _, c := range got.Status.Conditions {
				if c.Type == gateType {
					status = c.Status
				}
			}
			out = append(out, status)
		}
		return out, nil
	}
}

func acceptedCondition(ctx SpecContext, p *v1alpha1.ReadinessGatePolicy) func() *metav1.Condition {
	return func() *metav1.Condition {
		got := &v1alpha1.ReadinessGatePolicy{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return nil
		}
		return meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionAccepted)
	}
}

func totalRequests(servers []*testenv.PodServer) func() int64 {
	return func() int64 {
		var n int64
		for _, s := range servers {
			n += s.Requests()
		}
		return n
	}
}

// httpStatus is the status a GET of url answers, 0 when it cannot connect.
func httpStatus(url string) func() int {
	return func() int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
}
