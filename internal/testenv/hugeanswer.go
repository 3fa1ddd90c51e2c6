package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// HugePrometheus is a hostile tenant's Prometheus on loopback: it answers
// every query with size bytes of a JSON vector that never ends, written from
// one reused chunk so that the test never holds the answer.
type HugePrometheus struct {
	*httptest.Server
	// Answers counts the queries it answered; Largest is the most bytes one
	// answer got written before the reader hung up.
	Answers, Largest atomic.Int64
}

// StartHugePrometheus starts a HugePrometheus; the caller closes it.
func StartHugePrometheus(size int64) *HugePrometheus {
	p := &HugePrometheus{}
	chunk := []byte(`{"status":"success","data":{"resultType":"vector","result":[` + strings.Repeat(" ", 64<<10))
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.Answers.Add(1)
		var written int64
		for written < size {
			n, err := w.Write(chunk)
			written += int64(n)
			// Kept current as it grows, so a reader of Largest never sees
			// less than was written.
			for cur := p.Largest.Load(); written > cur && !p.Largest.CompareAndSwap(cur, written); cur = p.Largest.Load() {
			}
			if err != nil {
				return
			}
		}
	}))
	return p
}
