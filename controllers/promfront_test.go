package controllers_test

import (
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// promFront is the one Prometheus URL the suite's operator is allowed to
// query (--prometheus-allowed-urls): every test Prometheus is reached
// through it, under a path of its own, as a team's Thanos or a shared
// gateway would serve several Prometheus servers. It passes answers through
// as they are, redirects included.
type promFront struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]*httputil.ReverseProxy
}

func startPromFront() *promFront {
	f := &promFront{routes: map[string]*httputil.ReverseProxy{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// route makes backend reachable through the front and returns its URL there.
func (f *promFront) route(backend string) string {
	target, err := url.Parse(backend)
	Expect(err).NotTo(HaveOccurred())
	f.mu.Lock()
	defer f.mu.Unlock()
	name := "p" + strconv.Itoa(len(f.routes))
	proxy := httputil.NewSingleHostReverseProxy(target)
	// A backend stopped at the end of its spec is no news: log to the spec.
	proxy.ErrorLog = log.New(GinkgoWriter, "prometheus front: ", 0)
	f.routes[name] = proxy
	return f.URL + "/" + name
}

func (f *promFront) serve(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	proxy := f.routes[name]
	f.mu.Unlock()
	if proxy == nil {
		http.NotFound(w, r)
		return
	}
	r.URL.Path, r.URL.RawPath = "/"+rest, ""
	proxy.ServeHTTP(w, r)
}
