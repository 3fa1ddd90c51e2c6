package testenv

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PodServer is a real HTTP server on a pod's loopback IP, standing in for the
// pod's container. Tests change what it answers and watch the gates follow.
type PodServer struct {
	// Addr is ip:port.
	Addr string

	srv      *http.Server
	requests atomic.Int64

	mu          sync.Mutex
	status      int
	contentType string
	body        string
	delay       time.Duration
}

// StartPodServer listens on ip:port and answers 200 with an empty body until told otherwise.
func StartPodServer(ip string, port int) (*PodServer, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	s := &PodServer{Addr: l.Addr().String(), status: http.StatusOK}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Answer sets the response to every later request.
func (s *PodServer) Answer(status int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.contentType, s.body = status, contentType, body
}

// Delay makes every later response wait this long.
func (s *PodServer) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests is how many requests the server has had.
func (s *PodServer) Requests() int64 { return s.requests.Load() }

// Close stops the server: the pod is dead.
func (s *PodServer) Close() error { return s.srv.Close() }

func (s *PodServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	status, ct, body, delay := s.status, s.contentType, s.body, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// WaitQuiet waits until the server has had no request for window, polling
// its count, and fails after timeout: a target dropped by the operator goes
// quiet, though a fetch already under way may still land first.
func (s *PodServer) WaitQuiet(window, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	n, since := s.Requests(), time.Now()
	for time.Since(since) < window {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still had requests after %s (%d so far)", s.Addr, timeout, s.Requests())
		}
		time.Sleep(50 * time.Millisecond)
		if m := s.Requests(); m != n {
			n, since = m, time.Now()
		}
	}
	return nil
}
