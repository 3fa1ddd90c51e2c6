package podcache

import (
	"encoding/binary"
	"maps"
	"slices"
	"sync"
)

// Interner makes the cache's entries share one copy of equal strings and of
// equal label and annotation sets. Pods come by the thousand from a few
// templates: a ReplicaSet's pods carry the same labels, namespace, owner and
// condition reasons, yet the watch decodes each pod into strings and maps of
// its own, about 400 B a pod for its labels alone.
//
// Its tables are bounded, and only short strings and small sets are shared,
// so that values that never repeat (a StatefulSet's pod-name label, a
// tenant's 256 KiB of annotations) cost at most a full table, not more as the
// cluster grows: a full table starts over. A set too large to share is
// measured before it is sorted, so that a pod of 200,000 labels costs the
// informer no sort.
type Interner struct {
	mu      sync.Mutex
	strings map[string]string
	sets    map[string]map[string]string
	key     []byte
}

const (
	// internedStrings and internedSets bound the tables' counts, and
	// longestInterned, mostSetEntries and longestInternedSet what one entry
	// may take, so that the tables keep at most about 2 MiB together,
	// whatever tenants put in their pods' labels and annotations.
	internedStrings    = 4096
	internedSets       = 1024
	longestInterned    = 256
	mostSetEntries     = 16
	longestInternedSet = 512
)

// NewInterner returns an empty Interner.
func NewInterner() *Interner {
	return &Interner{strings: map[string]string{}, sets: map[string]map[string]string{}}
}

// String returns the shared copy of s.
func (in *Interner) String(s string) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.str(s)
}

func (in *Interner) str(s string) string {
	if len(s) > longestInterned {
		return s
	}
	if shared, ok := in.strings[s]; ok {
		return shared
	}
	if len(in.strings) >= internedStrings {
		clear(in.strings)
	}
	in.strings[s] = s
	return s
}

// Set returns the shared copy of a set of labels or annotations, which must
// not be modified: other entries hold it too. An empty set is returned as it
// is.
func (in *Interner) Set(m map[string]string) map[string]string {
	if len(m) == 0 || len(m) > mostSetEntries {
		return m
	}
	size := 0
	for k, v := range m {
		size += len(k) + len(v) + 2
	}
	if size > longestInternedSet {
		return m
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	// Each key and value is prefixed with its length: annotation values may
	// hold any byte, and no two sets may encode alike, or one tenant's pod
	// would be given another's labels.
	in.key = in.key[:0]
	for _, k := range slices.Sorted(maps.Keys(m)) {
		in.key = binary.AppendUvarint(in.key, uint64(len(k)))
		in.key = append(in.key, k...)
		in.key = binary.AppendUvarint(in.key, uint64(len(m[k])))
		in.key = append(in.key, m[k]...)
	}
	if shared, ok := in.sets[string(in.key)]; ok {
		return shared
	}
	if len(in.sets) >= internedSets {
		clear(in.sets)
	}
	shared := make(map[string]string, len(m))
	for k, v := range m {
		shared[in.str(k)] = in.str(v)
	}
	in.sets[string(in.key)] = shared
	return shared
}
