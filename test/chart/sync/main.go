// Command sync copies into charts/readygate the files it shares with config/
// (make chart); test/chart fails when they drift.
package main

import (
	"fmt"
	"os"

	"github.com/readygate/readygate/test/chart"
)

func main() {
	if err := chart.Sync("."); err != nil {
		fmt.Fprintln(os.Stderr, "make chart:", err)
		os.Exit(1)
	}
}
