package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// sumMetric sums the samples of a metric in a Prometheus text body whose
// label sets contain every filter (e.g. `verb="PATCH"`).
func sumMetric(r io.Reader, name string, filters ...string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var sum float64
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, f := range filters {
			if !strings.Contains(rest, f) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, sc.Err()
}
