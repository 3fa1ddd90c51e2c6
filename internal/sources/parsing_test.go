package sources

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// filled repeats elem (numbered by %d, if it has one) up to max bytes,
// between prefix and suffix.
func filled(prefix, elem, suffix string, max, count int) []byte {
	var b bytes.Buffer
	b.WriteString(prefix)
	for i := 0; i < count; i++ {
		e := elem
		if strings.Contains(elem, "%d") {
			e = fmt.Sprintf(elem, i)
		}
		if b.Len()+len(e)+len(suffix) > max {
			break
		}
		b.WriteString(e)
	}
	b.WriteString(suffix)
	return b.Bytes()
}

// allocated is what parse allocates.
func allocated(parse func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	parse()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// shape is a body at its cap built of one repeated element: a scrape
// (parsed as the metrics source does) or an http answer.
type shape struct {
	name   string
	body   []byte
	scrape bool
}

// shapes are the bodies a tenant's pods can serve that parse into the most
// per byte, and realistic ones beside them.
func shapes() []shape {
	scrape := func(name string, b []byte) shape { return shape{name: "scrape: " + name, body: b, scrape: true} }
	answer := func(name string, b []byte) shape { return shape{name: "http: " + name, body: b} }
	return []shape{
		scrape("one-sample lines", filled("", "a 1\n", "", MaxScrapeBytes, MaxSamples)),
		scrape("a label per line", filled("", "a{b=\"%d\"} 1\n", "", MaxScrapeBytes, MaxSamples)),
		scrape("nine labels per line", filled("", "a{a=\"\",b=\"\",c=\"\",d=\"\",e=\"\",f=\"\",g=\"\",h=\"\",i=\"%d\"} 1\n", "", MaxScrapeBytes, MaxSamples)),
		scrape("histogram buckets", filled("# TYPE h histogram\n", "h_bucket{le=\"%d\"} 1\n", "", MaxScrapeBytes, MaxSamples)),
		scrape("a family per line", filled("", "a%d 1\n", "", MaxScrapeBytes, MaxSamples)),
		scrape("long help, few samples", filled("", "# HELP a%d "+strings.Repeat("x", 1000)+"\na%[1]d 1\n", "", MaxScrapeBytes, MaxSamples)),
		scrape("HELP lines alone", filled("", "# HELP a%d x\n", "", MaxScrapeBytes, MaxScrapeBytes)),
		scrape("TYPE lines alone", filled("", "# TYPE a%d gauge\n", "", MaxScrapeBytes, MaxScrapeBytes)),
		scrape("a realistic page, 2k lines", filled("", "http_requests_total{code=\"200\",method=\"get\",handler=\"/api/v1/%d\"} 1027\n", "", MaxScrapeBytes, 2000)),
		answer("zeros", filled("[", "0,", "0]", MaxBodyBytes, MaxBodyBytes)),
		answer("empty objects", filled("[", "{},", "0]", MaxBodyBytes, MaxBodyBytes)),
		answer("empty arrays", filled("[", "[],", "0]", MaxBodyBytes, MaxBodyBytes)),
		answer("one-key objects", filled("[", "{\"a\":0},", "0]", MaxBodyBytes, MaxBodyBytes)),
		answer("empty strings", filled("[", "\"\",", "0]", MaxBodyBytes, MaxBodyBytes)),
		answer("one wide object", filled("{", "\"k%d\":0,", "\"z\":0}", MaxBodyBytes, MaxBodyBytes)),
		answer("quoted structure", filled("[\"", "{\\\"a\\\":[0,", "\"]", MaxBodyBytes, MaxBodyBytes)),
		answer("plain text", filled("", "ok ", "", MaxBodyBytes, MaxBodyBytes)),
		answer("text not UTF-8", filled("", "\xff", "", MaxBodyBytes, MaxBodyBytes)),
		answer("JSON not UTF-8", filled("[\"", "\xffa", "\"]", MaxBodyBytes, MaxBodyBytes)),
	}
}

// parse reads the body as its source does.
func (s shape) parse(t *testing.T) any {
	if !s.scrape {
		return HTTPResultOf(200, "application/json", s.body, time.Millisecond)
	}
	m, err := ParseMetrics(s.body, http.Header{"Content-Type": {"text/plain"}}, "pod")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// reserved is what its parse reserves.
func (s shape) reserved() int64 {
	if s.scrape {
		return scrapeParseBytes(s.body)
	}
	return httpParseBytes("application/json", s.body)
}

// A parse reserves what it will allocate before it runs, from its body's
// structure: a flat ten times the body let a tenant's pods serving bodies
// of tiny values (`a 1` lines, `{"a":0}` objects: 43 and 54 times their
// size) take the operator past its memory limit with four scrapes at once.
func TestParsesReserveWhatTheyAllocate(t *testing.T) {
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			got := allocated(func() { runtime.KeepAlive(s.parse(t)) })
			if want := s.reserved(); got > want {
				t.Errorf("a %d-byte body allocated %.1f MiB, over the %.1f MiB it reserves", len(s.body), mib(got), mib(want))
			}
		})
	}
}

// A scrape with more sample lines than a scrape may hold is refused
// before it is parsed: the parser holds every series before the first
// reaches the count.
func TestTooManySamplesAreRefusedUnparsed(t *testing.T) {
	body := filled("", "a 1\n", "", MaxScrapeBytes, MaxSamples+1)
	var err error
	got := allocated(func() { _, err = ParseMetrics(body, http.Header{"Content-Type": {"text/plain"}}, "pod") })
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d samples", MaxSamples)) {
		t.Fatalf("err = %v, want the sample cap", err)
	}
	if got > 1<<20 {
		t.Fatalf("refusing %d lines allocated %.1f MiB: it parsed them first", MaxSamples+1, mib(got))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// live is what the values made by make stay holding.
func live(make func() any) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := make()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// What a result keeps between fetches is counted in full against the
// retention budget: counting a small map as 64 bytes let results of one
// label per sample, or of one-key JSON objects, keep 2.7 times the budget.
func TestRetainedBytesCoverWhatResultsKeep(t *testing.T) {
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			var estimate int64
			got := live(func() any {
				v := s.parse(t)
				estimate = retainedBytes(v)
				return v
			})
			// Within what allocation rounding and the test's own garbage add.
			if got > estimate+estimate/32+64<<10 {
				t.Errorf("the result keeps %.2f MiB, counted as %.2f MiB", mib(got), mib(estimate))
			}
		})
	}
}
