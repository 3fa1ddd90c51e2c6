package controllers

import "sync"

// secretRef is one key of one Secret.
type secretRef struct{ namespace, name, key string }

// lastGood keeps the last value read of each Secret key the prometheus
// source uses. Entries are dropped when the Secret or key is gone, so it holds
// at most one value per key that a live policy names.
type lastGood struct {
	mu     sync.Mutex
	values map[secretRef][]byte
}

func (l *lastGood) get(r secretRef) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.values[r]
	return v, ok
}

func (l *lastGood) set(r secretRef, v []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.values == nil {
		l.values = map[secretRef][]byte{}
	}
	l.values[r] = v
}

func (l *lastGood) forget(r secretRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.values, r)
}
