package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// StartHugePrometheus serves, on loopback, a Prometheus answer of size bytes
// that never ends its JSON: a hostile tenant's server. It streams the answer
// rather than allocating it, and counts what it wrote, so a test can show
// the reader stopped at its cap.
func StartHugePrometheus(size int64) (*httptest.Server, *atomic.Int64) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(`{"status":"success","data":{"resultType":"vector","result":[` + strings.Repeat(" ", 64<<10))
		for written.Load() < size {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
			chunk = []byte(strings.Repeat(" ", 64<<10))
		}
	}))
	return srv, &written
}
