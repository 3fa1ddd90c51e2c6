// Command kubectl-rgp is readygate's kubectl plugin: kubectl rgp explain,
// test and status. Installed on the PATH (or by krew), kubectl runs it as
// `kubectl rgp`.
package main

import (
	"context"
	"os"
	"os/signal"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/readygate/readygate/internal/rgp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := rgp.Run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
