package sources

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/readygate/readygate/internal/cel"
)

// EndpointsOf returns every endpoint of the slices that targets the pod.
func EndpointsOf(slices []discoveryv1.EndpointSlice, pod *corev1.Pod) []cel.Endpoint {
	var out []cel.Endpoint
	for i := range slices {
		s := &slices[i]
		for _, e := range s.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || e.TargetRef.Name != pod.Name ||
				(e.TargetRef.UID != "" && e.TargetRef.UID != pod.UID) {
				continue
			}
			out = append(out, cel.Endpoint{
				ServiceName: s.Labels[discoveryv1.LabelServiceName],
				SliceName:   s.Name,
				Addresses:   e.Addresses,
				Ready:       isTrue(e.Conditions.Ready),
				Serving:     isTrue(e.Conditions.Serving),
				Terminating: isTrue(e.Conditions.Terminating),
				Ports:       portsOf(s.Ports),
			})
		}
	}
	return out
}

func portsOf(ports []discoveryv1.EndpointPort) []cel.EndpointPort {
	out := make([]cel.EndpointPort, 0, len(ports))
	for _, p := range ports {
		ep := cel.EndpointPort{}
		if p.Name != nil {
			ep.Name = *p.Name
		}
		if p.Port != nil {
			ep.Port = *p.Port
		}
		if p.Protocol != nil {
			ep.Protocol = string(*p.Protocol)
		}
		out = append(out, ep)
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }
