package controllers

import (
	"testing"
	"time"
)

// A value no round has asked for in secretKeptFor belongs to no live policy
// any more, and goes with the next read of any Secret.
func TestLastGoodForgetsWhatNoRoundReads(t *testing.T) {
	var l lastGood
	gone := secretRef{namespace: "shop", name: "old-token", key: "token"}
	l.set(gone, []byte("t0ken"))
	l.values[gone] = readValue{value: []byte("t0ken"), at: time.Now().Add(-secretKeptFor - time.Second)}
	live := secretRef{namespace: "shop", name: "token", key: "token"}
	l.set(live, []byte("fresh"))
	if _, ok, _ := l.get(gone); ok {
		t.Fatal("a value no round read for secretKeptFor was kept")
	}
	if v, ok, fresh := l.get(live); !ok || !fresh || string(v) != "fresh" {
		t.Fatalf("the value just read: %q %v %v", v, ok, fresh)
	}
}
