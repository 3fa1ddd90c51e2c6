package sources

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/readygate/readygate/api/v1alpha1"
)

// Defaults of a pod endpoint, as the CRD sets them.
const (
	DefaultTimeout     = time.Second
	DefaultMetricsPath = "/metrics"
)

// Endpoint is where on a pod a policy's endpoint is served.
type Endpoint struct {
	Scheme string // http or https
	Port   int32
	Path   string
}

// ResolveEndpoint resolves a policy's endpoint on a pod: a named port among
// the pod's container ports, the scheme and the path with its default.
func ResolveEndpoint(pod *corev1.Pod, ep v1alpha1.PodEndpoint, defaultPath string) (Endpoint, error) {
	port, err := resolvePort(pod, ep.Port)
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Scheme: "http", Port: port, Path: ep.Path}
	if ep.Scheme == v1alpha1.SchemeHTTPS {
		e.Scheme = "https"
	}
	if e.Path == "" {
		e.Path = defaultPath
	}
	return e, nil
}

// podURL builds the URL of a pod endpoint on the pod's own IP. The host never
// comes from the policy, so a policy cannot make the operator call anything
// but the pods it selects, and only those the rules let it dial.
func (r Reach) podURL(pod *corev1.Pod, ep v1alpha1.PodEndpoint, defaultPath string) (*url.URL, error) {
	ip, err := r.podAddress(pod)
	if err != nil {
		return nil, err
	}
	e, err := ResolveEndpoint(pod, ep, defaultPath)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(e.Path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", e.Path, err)
	}
	u.Scheme, u.Host = e.Scheme, net.JoinHostPort(ip.String(), strconv.Itoa(int(e.Port)))
	return u, nil
}

// resolvePort returns a port number, looking a name up among the ports of
// the pod's containers and native sidecars, as a Service's targetPort does.
func resolvePort(pod *corev1.Pod, port intstr.IntOrString) (int32, error) {
	if port.Type == intstr.Int {
		return port.IntVal, nil
	}
	for i := range pod.Spec.Containers {
		if n, ok := portNamed(&pod.Spec.Containers[i], port.StrVal); ok {
			return n, nil
		}
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; NativeSidecar(c) {
			if n, ok := portNamed(c, port.StrVal); ok {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no container of the pod has a port named %q", port.StrVal)
}

func portNamed(c *corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// NativeSidecar reports whether an init container keeps running beside the
// pod's containers, serving its ports.
func NativeSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// timeoutOr returns d, or def when d is unset.
func timeoutOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// NewRequest builds the request for a pod endpoint, or says why the rules
// forbid dialling the pod. That is readygate's refusal, or the policy's
// endpoint not fitting the pod, and no verdict on the pod: a changed flag
// or policy must not flip True gates False.
func (c *Client) NewRequest(pod *corev1.Pod, ep v1alpha1.PodEndpoint, defaultPath string) (Request, error) {
	u, err := c.rules.podURL(pod, ep, defaultPath)
	if err != nil {
		return Request{}, noVerdict{err}
	}
	return Request{URL: u.String(), Timeout: timeoutOr(ep.Timeout, DefaultTimeout), InsecureSkipVerify: ep.InsecureSkipVerify}, nil
}
