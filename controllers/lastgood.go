package controllers

import (
	"sync"
	"time"
)

// secretRef is one key of one Secret.
type secretRef struct{ namespace, name, key string }

// secretFreshFor is how long a Secret value read is used before it is read
// again: a tenant's policies at an interval of a second must not cost the
// API server a read per policy per second, and a rotated token is in use
// within this.
const secretFreshFor = 30 * time.Second

// secretKeptFor is how long a value no round asked for is kept: a live
// policy's rounds read it again every secretFreshFor, so an older one is
// no live policy's any more (deleted, or naming another Secret).
const secretKeptFor = 10 * secretFreshFor

// lastGood keeps the last value read of each Secret key the prometheus
// source uses. Entries are dropped when the Secret or key is gone, and when
// no round has read them for secretKeptFor, so it holds about one value per
// key that a live policy names.
type lastGood struct {
	mu     sync.Mutex
	values map[secretRef]readValue
}

type readValue struct {
	value []byte
	at    time.Time
}

// get returns the last value read, and whether it is still fresh.
func (l *lastGood) get(r secretRef) (value []byte, ok, fresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.values[r]
	return v.value, ok, ok && time.Since(v.at) < secretFreshFor
}

func (l *lastGood) set(r secretRef, v []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.values == nil {
		l.values = map[secretRef]readValue{}
	}
	now := time.Now()
	for ref, old := range l.values {
		if now.Sub(old.at) > secretKeptFor {
			delete(l.values, ref)
		}
	}
	l.values[r] = readValue{value: v, at: now}
}

func (l *lastGood) forget(r secretRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.values, r)
}
