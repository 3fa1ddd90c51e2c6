// Command dashboard writes readygate's Grafana dashboard,
// config/grafana/readygate-dashboard.json, from the Go definition in
// dashboard.go (make dashboard). The test beside it checks that the
// committed file is what this writes.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("out", "config/grafana/readygate-dashboard.json", "the file to write")
	flag.Parse()
	data, err := render()
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(1)
	}
}
