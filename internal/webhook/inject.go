package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/policy"
)

// InjectPath is where the pod injector serves; config/webhook names it.
const InjectPath = "/mutate-v1-pod"

// PodInjector adds to a new pod the readiness gates of the policies that
// select it. It reads namespaces and policies from the manager's cache, never
// the API.
type PodInjector struct {
	Cache client.Reader
	// API reads a namespace the cache has not seen yet, as the API server
	// does when it matches a webhook's namespaceSelector.
	API     client.Reader
	Decoder admission.Decoder
	// OperatorNamespace is never injected into, whatever its labels.
	OperatorNamespace string
}

// namespaceMeta is how the injector reads namespaces: their labels are all it
// needs, so the cache keeps only metadata.
func namespaceMeta() *metav1.PartialObjectMetadata {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return ns
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Handle mutates one pod CREATE.
func (i *PodInjector) Handle(ctx context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := i.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	ns := namespaceMeta()
	err := i.Cache.Get(ctx, client.ObjectKey{Name: pod.Namespace}, ns)
	if apierrors.IsNotFound(err) {
		err = i.API.Get(ctx, client.ObjectKey{Name: pod.Namespace}, ns)
	}
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("reading namespace %s: %w", pod.Namespace, err))
	}
	if !policy.NamespaceInjects(ns.Name, ns.Labels, i.OperatorNamespace) {
		return admission.Allowed("namespace does not ask for readiness-gate injection")
	}
	policies := &v1alpha1.ReadinessGatePolicyList{}
	if err := i.Cache.List(ctx, policies, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("listing policies: %w", err))
	}
	gates := policy.GatesToInject(pod, policies.Items)
	if len(gates) == 0 {
		return admission.Allowed("no readiness gate to add")
	}
	for _, g := range gates {
		pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
	}
	mutated, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, mutated)
}
