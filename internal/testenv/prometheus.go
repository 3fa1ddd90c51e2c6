package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ScrapeTarget is one endpoint for the test Prometheus to scrape, with the
// labels its series get (e.g. pod and namespace).
type ScrapeTarget struct {
	Address string
	Labels  map[string]string
}

// Prometheus is a real Prometheus server on loopback.
type Prometheus struct {
	// URL is the server's base URL.
	URL string

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// PrometheusBinary is PROMETHEUS_BINARY when set, otherwise bin/prometheus of
// the repository that holds this package.
func PrometheusBinary() string {
	if p := os.Getenv("PROMETHEUS_BINARY"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "bin", "prometheus")
}

// StartPrometheus runs Prometheus scraping the targets every second and
// returns once it is ready.
func StartPrometheus(ctx context.Context, targets []ScrapeTarget) (*Prometheus, error) {
	bin := PrometheusBinary()
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("prometheus not found at %s (run `make prometheus`): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "readygate-prometheus-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(scrapeConfig(targets)), 0o600); err != nil {
		return nil, err
	}
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--log.level=warn",
	)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting prometheus: %w", err)
	}
	p := &Prometheus{URL: "http://" + addr, cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

func (p *Prometheus) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return errors.New("prometheus exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready at %s: %w", p.URL, ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop ends the server and removes its data.
func (p *Prometheus) Stop() error {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return os.RemoveAll(p.dir)
}

func scrapeConfig(targets []ScrapeTarget) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n- job_name: pods\n  static_configs:\n")
	for _, t := range targets {
		fmt.Fprintf(&b, "  - targets: [%q]\n    labels:\n", t.Address)
		for k, v := range t.Labels {
			fmt.Fprintf(&b, "      %s: %q\n", k, v)
		}
	}
	return b.String()
}
