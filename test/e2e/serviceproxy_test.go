package e2e_test

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// serviceProxy plays the webhook Service and kube-proxy for replicas that
// run as processes on loopback: the API server refuses loopback addresses
// in Endpoints and EndpointSlices, so a real Service cannot route to them.
// Like kube-proxy it forwards TCP connections, round robin, to the ready
// endpoints only, without retrying a connection another endpoint refuses.
type serviceProxy struct {
	listener net.Listener

	mu        sync.Mutex
	endpoints []string
	next      int
	// removed records when each endpoint left the Service.
	removed map[string]time.Time
}

func startServiceProxy() *serviceProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	p := &serviceProxy{listener: l, removed: map[string]time.Time{}}
	go p.serve()
	DeferCleanup(func() { _ = l.Close() })
	return p
}

func (p *serviceProxy) addr() string { return p.listener.Addr().String() }

func (p *serviceProxy) serve() {
	for {
		conn, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.forward(conn)
	}
}

// forward pipes conn to the next ready endpoint; with none, or when it
// refuses, the client sees its connection closed, as with a dead pod.
func (p *serviceProxy) forward(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	endpoint := p.pick()
	if endpoint == "" {
		return
	}
	backend, err := net.Dial("tcp", endpoint)
	if err != nil {
		return
	}
	defer func() { _ = backend.Close() }()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(backend, conn)
	go pipe(conn, backend)
	<-done // either side closing ends both, as a reset connection does
}

func (p *serviceProxy) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.endpoints) == 0 {
		return ""
	}
	p.next = (p.next + 1) % len(p.endpoints)
	return p.endpoints[p.next]
}

// setEndpoints replaces the ready endpoints, noting when each left.
func (p *serviceProxy) setEndpoints(ready []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.endpoints {
		if !slices.Contains(ready, e) {
			p.removed[e] = time.Now()
		}
	}
	p.endpoints = ready
}

// routesTo reports how many endpoints the proxy forwards to now.
func (p *serviceProxy) routesTo() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.endpoints)
}

func (p *serviceProxy) removedAt(endpoint string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.removed[endpoint]
}

// endpointsPeriod is how often the proxy's endpoints follow the replicas'
// readiness. In a cluster the kubelet notices a dead container and the
// endpoints drop it within a second or two.
const endpointsPeriod = 100 * time.Millisecond

// followReadiness keeps the proxy's endpoints to the webhook addresses of
// the replicas that are alive and ready, until the spec ends.
func (p *serviceProxy) followReadiness(replicas ...*replica) {
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	go func() {
		tick := time.NewTicker(endpointsPeriod)
		defer tick.Stop()
		for ctx.Err() == nil {
			var ready []string
			for _, r := range replicas {
				if r.ready() {
					ready = append(ready, r.webhookAddr)
				}
			}
			p.setEndpoints(ready)
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
}
