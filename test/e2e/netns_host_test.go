package e2e_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/readygate/readygate/internal/testenv"
)

const (
	// netnsHostPort is the port nshost serves /healthz on.
	netnsHostPort = 8080
	// netnsSubnets is 10.213.0.0/16 cut into /30s: one per host, picked
	// per process and spec so that concurrent runs on one machine differ.
	netnsSubnets = 1 << 14
	// needIP is why a spec fails, not skips, without iproute2: the http
	// checks of issue 13 would silently not run.
	needIP = "the kubectl-rgp http specs serve a pod from a network namespace and need iproute2's `ip` on the PATH (apt-get install -y iproute2; .ci/run installs it)"
)

// netnsSeq numbers the hosts of this process.
var netnsSeq atomic.Int32

// netnsHost is an HTTP server in a network namespace of its own, on the
// far end of a veth pair: a pod IP the API server's pods/proxy will dial,
// since it refuses loopback. The test's traffic goes only there and to
// loopback.
type netnsHost struct {
	// IP is the server's address, the pod's IP.
	IP     string
	answer string
}

// startNetnsHost creates the namespace, the veth pair and the server, and
// removes them all when the spec ends, whether it passed or not.
func startNetnsHost() *netnsHost {
	_, err := exec.LookPath("ip")
	Expect(err).NotTo(HaveOccurred(), needIP)
	seq := netnsSeq.Add(1)
	id := fmt.Sprintf("%x-%x", os.Getpid(), seq)
	netns, hostEnd, podEnd := "rgp-e2e-"+id, "rgp"+id+"h", "rgp"+id+"p"
	hostIP, podIP := freeSubnet(os.Getpid()*16 + int(seq))

	ip("netns", "add", netns)
	DeferCleanup(ip, "netns", "delete", netns)
	ip("link", "add", hostEnd, "type", "veth", "peer", "name", podEnd)
	DeferCleanup(ip, "link", "delete", hostEnd) // takes its peer with it
	ip("link", "set", podEnd, "netns", netns)
	ip("addr", "add", hostIP+"/30", "dev", hostEnd)
	ip("link", "set", hostEnd, "up")
	ip("-n", netns, "addr", "add", podIP+"/30", "dev", podEnd)
	ip("-n", netns, "link", "set", podEnd, "up")

	h := &netnsHost{IP: podIP, answer: filepath.Join(GinkgoT().TempDir(), "answer")}
	h.Answer(http.StatusServiceUnavailable, "warming up")
	server := exec.Command("ip", "netns", "exec", netns, nshostBinary,
		"-addr", net.JoinHostPort(podIP, fmt.Sprint(netnsHostPort)), "-answer", h.answer)
	server.Stdout, server.Stderr = GinkgoWriter, GinkgoWriter
	// ip netns exec execs the server: it dies with the suite even when the
	// suite is killed before its cleanups run.
	server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	Expect(server.Start()).To(Succeed())
	DeferCleanup(testenv.StopProcess, server, 5*time.Second)
	Eventually(func() error {
		resp, err := http.Get(h.URL())
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}).Should(Succeed(), "nshost answering in network namespace "+netns)
	return h
}

// Answer sets the status code and body of the host's /healthz.
func (h *netnsHost) Answer(status int, body string) {
	Expect(os.WriteFile(h.answer, fmt.Appendf(nil, "%d\n%s", status, body), 0o600)).To(Succeed())
}

// URL is the host's /healthz.
func (h *netnsHost) URL() string {
	return fmt.Sprintf("http://%s/healthz", net.JoinHostPort(h.IP, fmt.Sprint(netnsHostPort)))
}

// ip runs iproute2's ip and fails the spec with its output when it fails.
func ip(args ...string) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "ip %s: %s", strings.Join(args, " "), out)
}

// freeSubnet returns the two addresses of a /30 of 10.213.0.0/16 that no
// interface of the machine uses yet, trying from the /30 numbered start.
func freeSubnet(start int) (hostIP, podIP string) {
	used, err := exec.Command("ip", "-o", "-4", "addr", "show").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "ip -o -4 addr show: %s", used)
	for i := range netnsSubnets {
		base := ((start + i) % netnsSubnets) * 4
		prefix := fmt.Sprintf("10.213.%d.", base/256)
		hostIP, podIP = fmt.Sprintf("%s%d", prefix, base%256+1), fmt.Sprintf("%s%d", prefix, base%256+2)
		if !strings.Contains(string(used), " "+hostIP+"/") && !strings.Contains(string(used), " "+podIP+"/") {
			return hostIP, podIP
		}
	}
	Fail("no free /30 in 10.213.0.0/16 for a network namespace host")
	return "", ""
}
