package sources

import (
	"errors"
	"fmt"
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
