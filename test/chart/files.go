// Package chart tests the Helm chart charts/readygate against config/, and
// keeps the files the chart takes from config/ in sync (make chart).
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Copy is a file of config/ that the chart carries as it is: generated
// (the CRD, the manager's ClusterRole) or written once for both installs
// (the alerts, the dashboard).
type Copy struct{ From, To string }

// Copies are the chart's files that come from config/, relative to the
// repository's root.
var Copies = []Copy{
	{"config/crd/bases/readygate.io_readinessgatepolicies.yaml", "charts/readygate/files/crds/readygate.io_readinessgatepolicies.yaml"},
	{"config/rbac/role.yaml", "charts/readygate/files/rbac/role.yaml"},
	{"config/prometheus/rules.yaml", "charts/readygate/files/rules.yaml"},
	{"config/grafana/readygate-dashboard.json", "charts/readygate/files/readygate-dashboard.json"},
}

// Sync copies every source that exists into the chart and removes the
// chart's copy of a source that does not, so the chart never carries a
// stale file.
func Sync(root string) error {
	for _, c := range Copies {
		data, err := os.ReadFile(filepath.Join(root, c.From))
		to := filepath.Join(root, c.To)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Remove(to); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		case err != nil:
			return err
		default:
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(to, data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// Drift names every chart file that differs from its source in config/, is
// missing while its source exists, or exists while its source does not.
func Drift(root string) ([]string, error) {
	var drift []string
	for _, c := range Copies {
		want, errFrom := os.ReadFile(filepath.Join(root, c.From))
		got, errTo := os.ReadFile(filepath.Join(root, c.To))
		for _, err := range []error{errFrom, errTo} {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		switch {
		case errFrom != nil && errTo == nil:
			drift = append(drift, fmt.Sprintf("%s exists, but its source %s does not", c.To, c.From))
		case errFrom == nil && errTo != nil:
			drift = append(drift, fmt.Sprintf("%s is missing (a copy of %s)", c.To, c.From))
		case !bytes.Equal(want, got):
			drift = append(drift, fmt.Sprintf("%s differs from %s", c.To, c.From))
		}
	}
	return drift, nil
}
