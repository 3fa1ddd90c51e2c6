package sources

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolvePort(t *testing.T) {
	always, onFailure := corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicy("OnFailure")
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}},
		InitContainers: []corev1.Container{
			{Name: "istio-proxy", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090}}},
			{Name: "migrate", Ports: []corev1.ContainerPort{{Name: "migrate", ContainerPort: 9000}}},
			{Name: "odd", RestartPolicy: &onFailure, Ports: []corev1.ContainerPort{{Name: "odd", ContainerPort: 9001}}},
		},
	}}
	cases := []struct {
		port    intstr.IntOrString
		want    int32
		wantErr string
	}{
		{port: intstr.FromInt32(9090), want: 9090},
		{port: intstr.FromString("http"), want: 8080},
		// A native sidecar runs beside the app, as a Service's targetPort finds it.
		{port: intstr.FromString("http-envoy-prom"), want: 15090},
		// An init container that runs to completion serves nothing while the pod runs.
		{port: intstr.FromString("migrate"), wantErr: `no container of the pod has a port named "migrate"`},
		{port: intstr.FromString("odd"), wantErr: `no container of the pod has a port named "odd"`},
	}
	for _, tc := range cases {
		got, err := resolvePort(pod, tc.port)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.port.String(), err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.port.String(), got, err, tc.want)
		}
	}
}
