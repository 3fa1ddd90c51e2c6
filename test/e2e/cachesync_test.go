package e2e_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// A manager whose lists the API server refuses (its RBAC missing) exits
// once --cache-sync-timeout passes, naming the refusal, rather than idle
// for ever; one whose lists are only slow waits (cmd/cachesync.go).
var _ = Describe("a manager the API server refuses to list for", func() {
	It("exits at --cache-sync-timeout, saying so", func() {
		kubeconfig := impersonatingKubeconfig("readygate-test-without-rbac")
		cmd := exec.Command(managerBinary, "--kubeconfig="+kubeconfig, "--leader-elect=false", "--cache-sync-timeout=3s",
			"--metrics-bind-address="+freeLoopbackAddr(), "--health-probe-bind-address="+freeLoopbackAddr())
		cmd.Env = append(cmd.Environ(), "ENABLE_WEBHOOKS=false")
		session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Kill().Wait() })
		Eventually(session).WithTimeout(time.Minute).Should(gexec.Exit(1))
		Expect(string(session.Out.Contents()) + string(session.Err.Contents())).To(ContainSubstring("the API server refuses the operator's lists"))
	})
})

var _ = Describe("a manager whose lists the API server answers slowly", func() {
	It("waits for them past --cache-sync-timeout, not ready meanwhile, instead of exiting to list again", func() {
		const listDelay = 8 * time.Second
		proxy := slowPodListProxy(listDelay)
		probe := freeLoopbackAddr()
		cmd := exec.Command(managerBinary, "--kubeconfig="+proxyKubeconfig(proxy), "--leader-elect=false", "--cache-sync-timeout=3s",
			"--source-deny-cidrs=", "--metrics-bind-address="+freeLoopbackAddr(), "--health-probe-bind-address="+probe)
		cmd.Env = append(os.Environ(), "ENABLE_WEBHOOKS=false")
		session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Interrupt().Wait(20 * time.Second) })
		start := time.Now()
		Eventually(httpStatus("http://"+probe+"/readyz")).WithTimeout(listDelay+followMargin).Should(Equal(http.StatusOK),
			"OPERATOR BUG: the manager never got ready while its pod list was slow")
		Expect(session.ExitCode()).To(Equal(-1), "the manager exited while its pod list was slow")
		Expect(time.Since(start)).To(BeNumerically(">=", listDelay), "the proxy did not slow the pod list")
	})
})

// slowPodListProxy serves the control plane's API on loopback, answering
// every cluster-wide pod list and watch after delay.
func slowPodListProxy(delay time.Duration) string {
	target, err := url.Parse(cp.Config.Host)
	Expect(err).NotTo(HaveOccurred())
	transport, err := rest.TransportFor(cp.Config)
	Expect(err).NotTo(HaveOccurred())
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.Transport, forward.FlushInterval = transport, -1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A list, or a watch list's initial events (client-go lists so).
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/pods" {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		forward.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	DeferCleanup(srv.Close)
	return "http://" + ln.Addr().String()
}

// proxyKubeconfig is a kubeconfig for the API behind server, which brings
// its own credentials.
func proxyKubeconfig(server string) string {
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(path, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: proxy, cluster: {server: %q}}]
users: [{name: proxy, user: {}}]
contexts: [{name: proxy, context: {cluster: proxy, user: proxy}}]
current-context: proxy
`, server), 0o600)).To(Succeed())
	return path
}

// impersonatingKubeconfig is the control plane's kubeconfig acting as user,
// who has no RBAC of its own.
func impersonatingKubeconfig(user string) string {
	cfg, err := clientcmd.LoadFromFile(cp.KubeconfigPath)
	Expect(err).NotTo(HaveOccurred())
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
	}
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
	return path
}
