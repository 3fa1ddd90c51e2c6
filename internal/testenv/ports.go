package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// Ports are picked below Linux's ephemeral range (32768–60999 by default):
// a port the kernel handed out for a listener on :0 and closed again is
// soon handed to some outgoing connection, and a process told to listen on
// it then fails with "address already in use" (a webhook replica did so in
// the e2e suite).
const (
	lowestPort = 10000
	portsBelow = 32768
)

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeLoopbackAddr returns a 127.0.0.1 address whose port was free on every
// interface a moment ago, outside the ephemeral range and never returned
// before by this process.
func FreeLoopbackAddr() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		port := lowestPort + rand.N(portsBelow-lowestPort)
		if handedOut.ports[port] {
			continue
		}
		// Listening on all interfaces also proves that no socket holds the
		// port on loopback alone.
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		handedOut.ports[port] = true
		return fmt.Sprintf("127.0.0.1:%d", port), nil
	}
	return "", errors.New("no free port found below the ephemeral range in 100 tries")
}
