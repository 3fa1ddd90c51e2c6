// Package rgp is kubectl-rgp, the kubectl plugin that answers "why is my pod
// not ready", "will my policy work" and "how far is the rollout". It
// evaluates with the operator's own packages (the CEL environment, the
// sources' decoders, the planner), so its verdicts are the operator's.
package rgp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes, the same for every command: scripts branch on them.
const (
	// ExitOK: the policy is true (test), every pod is True (status --watch),
	// or the report was printed.
	ExitOK = 0
	// ExitNotReady: the policy is false (test), or --watch timed out.
	ExitNotReady = 1
	// ExitError: bad input, a policy that does not compile, no cluster.
	ExitError = 2
)

// exitError carries a command's exit code; its message, when not empty, is
// printed as one line on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// failed is bad input or an unreachable cluster: exit 2 with the message.
func failed(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}

// options are the flags every command shares.
type options struct {
	config  *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	output  string
}

// NewCommand returns the kubectl-rgp command tree.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{config: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-rgp",
		Short: "Explain, test and follow readygate's ReadinessGatePolicies",
		Long: `kubectl rgp answers the questions readiness gates raise:
  explain  why is this pod (not) ready, under every policy that selects it
  test     will this policy do what I mean, evaluated offline against files
  status   how far is the rollout, per policy; --watch waits for it`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	o.config.AddFlags(root.PersistentFlags())
	root.AddCommand(newExplainCommand(o), newTestCommand(o), newStatusCommand(o))
	return root
}

// Run executes the command tree with args and returns the exit code. Errors
// are one line on stderr, never a stack trace.
func Run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var exit *exitError
	if errors.As(err, &exit) {
		printError(streams.ErrOut, exit.err)
		return exit.code
	}
	printError(streams.ErrOut, err) // cobra's own: an unknown flag or command
	return ExitError
}

// printError writes err as one line. CEL's compile errors draw the
// expression with a caret under the position on extra lines; the position is
// already in the first (field:line:column), so the drawing is left out.
func printError(w io.Writer, err error) {
	if err == nil {
		return
	}
	var kept []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, " | ") && strings.TrimSpace(line) != "" {
			kept = append(kept, strings.TrimSpace(line))
		}
	}
	_, _ = fmt.Fprintln(w, "error: "+printable(strings.Join(kept, " ")))
}

// outputJSON is -o json.
const outputJSON = "json"

// addOutputFlag adds -o/--output with the text and json formats.
func (o *options) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format: empty for text, or json.")
}

// checkOutput rejects an unknown output format before any work is done.
func (o *options) checkOutput() error {
	if o.output != "" && o.output != outputJSON {
		return failed("--output %q: must be json or empty (text)", o.output)
	}
	return nil
}
