package sources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
)

// ErrNoVerdict marks a failed fetch that says nothing about the pod, though
// it reads the pod's own endpoint: readygate's own fault or limits.
var ErrNoVerdict = errors.New("no verdict on the pod")

// noVerdict marks an error as ErrNoVerdict and keeps its message.
type noVerdict struct{ error }

func (e noVerdict) Unwrap() []error { return []error{e.error, ErrNoVerdict} }

// ErrOverloaded marks a result refused because readygate's shared budget is
// full, which other namespaces may have filled.
var ErrOverloaded = fmt.Errorf("readygate's budget for kept results is full, %w", ErrNoVerdict)

// Unanswered reports a fetch that got no answer from the endpoint: the
// connection refused, reset or timed out. A failure readygate says holds no
// verdict is not one.
func Unanswered(err error) bool {
	if err == nil || errors.Is(err, ErrNoVerdict) {
		return false
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}
