package installtest

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	. "github.com/onsi/gomega"    //nolint:revive,staticcheck // the suites' DSL: this package holds their specs
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// metricsReader is the ClusterRole every install ships for scrapers.
const metricsReader = "readygate-metrics-reader"

// DescribeMetricsEndpoint registers the specs of the metrics endpoint the
// install configures: HTTPS, answering only a scraper whose token the API
// server authenticates and whose identity has the metrics reader role.
func DescribeMetricsEndpoint(what string, inst *Installation) bool {
	return Describe(what, func() {
		scrape := func(token string) (int, string) {
			tlsConfig := inst.MetricsTLS
			if tlsConfig == nil {
				// The manager's own self-signed certificate: the spec checks
				// who may read, not who serves.
				tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback, self-signed
			}
			scraper := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
			req, err := http.NewRequest(http.MethodGet, "https://"+inst.MetricsAddr+"/metrics", nil)
			Expect(err).NotTo(HaveOccurred())
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := scraper.Do(req)
			if err != nil {
				return 0, err.Error()
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}

		It("refuses a scrape without a token, and one whose account lacks the metrics reader role", func(ctx SpecContext) {
			Eventually(func() int { code, _ := scrape(""); return code }).Should(Equal(http.StatusUnauthorized))
			token := scraperToken(ctx, inst.Cluster, "no-metrics")
			Eventually(func() int { code, _ := scrape(token); return code }).Should(Equal(http.StatusForbidden))
		})

		It("answers a scrape with a token bound to "+metricsReader, func(ctx SpecContext) {
			token := scraperToken(ctx, inst.Cluster, "prometheus")
			Expect(inst.K8s.Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "prometheus-readygate-metrics"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReader},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "monitoring"}},
			})).To(Succeed())
			Eventually(func(g Gomega) {
				code, body := scrape(token)
				g.Expect(code).To(Equal(http.StatusOK), body)
				g.Expect(body).To(ContainSubstring("controller_runtime_reconcile_total"))
			}).Should(Succeed())
		})
	})
}

// scraperToken creates a service account in namespace monitoring and
// returns a token of it.
func scraperToken(ctx context.Context, c *Cluster, name string) string {
	Expect(client.IgnoreAlreadyExists(c.K8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}))).To(Succeed())
	Expect(c.K8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: name}})).To(Succeed())
	return c.Token(ctx, "monitoring", name)
}
