package e2e_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// operatorNamespace is POD_NAMESPACE of the replicas that elect a leader:
// their Lease lives there.
const operatorNamespace = "readygate-system"

// leaseFlags are short leader-election timings so that a takeover fits in a
// spec: a standby takes the lease at most leaseDuration (plus a retry)
// after the leader's last renewal.
const (
	leaseDuration = 4 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

var leaseFlags = []string{
	"--leader-elect=true",
	"--leader-elect-lease-duration=" + leaseDuration.String(),
	"--leader-elect-renew-deadline=3s",
	"--leader-elect-retry-period=" + retryPeriod.String(),
}

// replica is one manager process with its webhooks, as one pod of the
// deployment runs it.
type replica struct {
	cmd                                 *exec.Cmd
	done                                chan struct{}
	webhookAddr, probeAddr, metricsAddr string
}

// startReplica starts a manager that elects a leader and serves the
// webhooks with the certificate in certDir.
func startReplica(certDir string) *replica {
	r := &replica{webhookAddr: freeLoopbackAddr(), probeAddr: freeLoopbackAddr(), metricsAddr: freeLoopbackAddr(), done: make(chan struct{})}
	_, port, err := net.SplitHostPort(r.webhookAddr)
	Expect(err).NotTo(HaveOccurred())
	args := append([]string{"--metrics-bind-address=" + r.metricsAddr, "--health-probe-bind-address=" + r.probeAddr,
		"--webhook-port=" + port, "--webhook-cert-dir=" + certDir}, leaseFlags...)
	r.cmd = startManager([]string{"POD_NAMESPACE=" + operatorNamespace}, args...)
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	DeferCleanup(r.stop)
	return r
}

// kill SIGKILLs the replica, as the OOM killer or a node failure does, and
// waits until it is gone.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// stop interrupts the replica and kills it if it has not exited after the
// deployment's terminationGracePeriodSeconds.
func (r *replica) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.kill()
	}
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// ready is what the deployment's readiness probe sees.
func (r *replica) ready() bool {
	return r.alive() && httpStatus("http://"+r.probeAddr+"/readyz")() == http.StatusOK
}

// leading reports whether the replica holds the lease, from its metrics.
func (r *replica) leading() bool {
	v, err := scrape("http://"+r.metricsAddr+"/metrics", "leader_election_master_status", `name="readygate.readygate.io"`)
	return err == nil && v == 1
}

// leaderOf returns which of the replicas leads, nil when none does.
func leaderOf(replicas ...*replica) func() *replica {
	return func() *replica {
		for _, r := range replicas {
			if r.alive() && r.leading() {
				return r
			}
		}
		return nil
	}
}

// scrape sums the samples of metric name, with the labels, that the
// Prometheus text exposition at url holds.
func scrape(url, name string, labels ...string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	return sumSeries(resp.Body, name, labels...)
}

// sumSeries sums the samples of metric name whose labels include every one
// of labels, each as the exposition writes it: `name="a"`.
func sumSeries(exposition io.Reader, name string, labels ...string) (float64, error) {
	var sum float64
	found := false
	lines := bufio.NewScanner(exposition)
	lines.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for lines.Scan() {
		line := lines.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // a comment, or another metric whose name begins with name
		}
		set, value := "", rest
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			set, value = rest[:i+1], rest[i+1:]
		}
		if !containsAll(set, labels) {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			return 0, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("%w: %s%v", errNoSeries, name, labels)
	}
	return sum, lines.Err()
}

var errNoSeries = errors.New("no series")

func containsAll(labelSet string, labels []string) bool {
	for _, l := range labels {
		if !strings.Contains(labelSet, "{"+l+",") && !strings.Contains(labelSet, ","+l+",") &&
			!strings.Contains(labelSet, ","+l+"}") && !strings.Contains(labelSet, "{"+l+"}") {
			return false
		}
	}
	return true
}

// createOperatorNamespace creates the namespace the replicas' Lease lives in.
func createOperatorNamespace(ctx SpecContext) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := k8s.Create(ctx, ns); err != nil {
		Expect(err).To(MatchError(ContainSubstring("already exists")))
	}
}
