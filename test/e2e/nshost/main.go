// Command nshost is the pod that the kubectl-rgp end-to-end specs serve from
// a network namespace of their own: the API server's pods/proxy dials only
// global-unicast pod IPs, never loopback, so the spec puts this server on
// one end of a veth pair and gives the pod the address of that end.
//
// It answers GET /healthz with the status code on the first line of the
// -answer file and the rest of the file as the body. The file is read on
// every request, so a spec changes the answer by rewriting it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "", "address to listen on, e.g. 10.213.7.2:8080")
	answer := flag.String("answer", "", "file whose first line is the status code and the rest the body")
	flag.Parse()
	if *addr == "" || *answer == "" {
		log.Fatal("nshost: -addr and -answer are required")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		status, body, err := readAnswer(*answer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// readAnswer parses "STATUS\nBODY".
func readAnswer(path string) (int, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	first, body, _ := strings.Cut(string(data), "\n")
	status, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || status < 100 || status > 999 {
		return 0, "", errors.Join(fmt.Errorf("%s: the first line must be a status code, not %q", path, first), err)
	}
	return status, body, nil
}
