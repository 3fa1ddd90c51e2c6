package sources

import (
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// HeaderName is --prometheus-namespace-header: the HTTP header in which the
// prometheus source names the policy's namespace to Prometheus, so that a
// proxy in front of it (prom-label-proxy with -header-name, say) confines
// each query to that namespace's series. Empty sends none. The operator sets
// it, and no policy can, so no tenant can name another's namespace.
type HeaderName string

func (h *HeaderName) String() string { return string(*h) }

// Set takes a header name that the source's requests use for nothing else.
func (h *HeaderName) Set(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		*h = ""
		return nil
	}
	if !httpguts.ValidHeaderFieldName(v) {
		return fmt.Errorf("%q is not an HTTP header name", v)
	}
	canonical := http.CanonicalHeaderKey(v)
	switch canonical {
	case "Authorization", "Content-Type", "Content-Length", "Host", "User-Agent", "Connection", "Transfer-Encoding":
		return fmt.Errorf("%q carries something else in every query readygate sends", v)
	}
	*h = HeaderName(canonical)
	return nil
}
