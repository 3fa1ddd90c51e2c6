package sources

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// CIDRs is a list of networks, set from a comma-separated flag value; an
// empty value is an empty list.
type CIDRs []netip.Prefix

// DefaultDenyCIDRs are the networks a pod source never dials by default:
// loopback (the operator itself and its node's daemons), link-local (cloud
// metadata endpoints), unspecified and multicast. No pod has such an IP in a
// real cluster, so only a forged or misconfigured pod status names one.
func DefaultDenyCIDRs() CIDRs {
	var c CIDRs
	if err := c.Set("127.0.0.0/8,::1/128,169.254.0.0/16,fe80::/10,0.0.0.0/32,::/128,224.0.0.0/4,ff00::/8"); err != nil {
		panic(err)
	}
	return c
}

func (c *CIDRs) String() string {
	s := make([]string, len(*c))
	for i, p := range *c {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Set replaces the list with the comma-separated CIDRs of value.
func (c *CIDRs) Set(value string) error {
	var out CIDRs
	for f := range strings.SplitSeq(value, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	*c = out
	return nil
}

// containing returns the first network of the list that holds addr.
func (c CIDRs) containing(addr netip.Addr) (netip.Prefix, bool) {
	// An IPv4-mapped IPv6 address reaches the IPv4 host, and a zone hides
	// an address from Prefix.Contains: compare the plain address.
	addr = addr.Unmap().WithZone("")
	for _, p := range c {
		if p.Contains(addr) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// Terminal says whether the pod has finished: its IP is back in the pool and
// may already belong to another namespace's pod.
func Terminal(pod *corev1.Pod) bool {
	return TerminalPhase(pod.Status.Phase)
}

// TerminalPhase says whether a pod in this phase has finished.
func TerminalPhase(phase corev1.PodPhase) bool {
	return phase == corev1.PodSucceeded || phase == corev1.PodFailed
}

// Reach is what the administrator lets the http and metrics sources dial
// (design rule 15): only a running pod's own IP, never a hostNetwork pod's
// (the node's) unless allowed, never an address in DenyCIDRs.
type Reach struct {
	// DenyCIDRs is --source-deny-cidrs.
	DenyCIDRs CIDRs
	// AllowHostNetwork is --allow-host-network-sources.
	AllowHostNetwork bool
}

// podAddress returns the pod IP to dial, or why it may not be dialled.
func (r Reach) podAddress(pod *corev1.Pod) (netip.Addr, error) {
	if Terminal(pod) {
		return netip.Addr{}, fmt.Errorf("the pod is %s: its IP may belong to another pod now, so readygate does not dial it", pod.Status.Phase)
	}
	if pod.Spec.HostNetwork && !r.AllowHostNetwork {
		return netip.Addr{}, fmt.Errorf("the pod uses hostNetwork, so its IP is its node's: readygate dials it only when it runs with --allow-host-network-sources")
	}
	if pod.Status.PodIP == "" {
		return netip.Addr{}, fmt.Errorf("the pod has no IP yet")
	}
	addr, err := netip.ParseAddr(pod.Status.PodIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("the pod IP %q is not an IP address", pod.Status.PodIP)
	}
	if err := r.allows(addr); err != nil {
		return netip.Addr{}, fmt.Errorf("the pod IP %w", err)
	}
	return addr, nil
}

func (r Reach) allows(addr netip.Addr) error {
	if p, denied := r.DenyCIDRs.containing(addr); denied {
		return fmt.Errorf("%s is in %s, which readygate's --source-deny-cidrs denies", addr, p)
	}
	return nil
}

// checkDial is a net.Dialer Control function: it checks the address actually
// dialled, after name resolution, so nothing reaches a denied network
// whatever URL led there.
func (r Reach) checkDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialling %s: not an IP address and port", address)
	}
	if err := r.allows(ap.Addr()); err != nil {
		return fmt.Errorf("dialling %s refused: %w", address, err)
	}
	return nil
}
