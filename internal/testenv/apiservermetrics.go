package testenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// APIServerCount sums the API server's own series of metric whose labels
// include each of labels (written as in the exposition: `name="x"`).
func APIServerCount(ctx context.Context, cfg *rest.Config, metric string, labels ...string) (float64, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	raw, err := client.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	total := 0.0
	for line := range strings.SplitSeq(string(raw), "\n") {
		if !strings.HasPrefix(line, metric+"{") || !hasAll(line, labels) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("the API server's series %q: %w", line, err)
		}
		total += v
	}
	return total, nil
}

func hasAll(line string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(line, p) {
			return false
		}
	}
	return true
}
