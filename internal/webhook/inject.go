package webhook

import (
	"context"
	"fmt"
	"net/http"

	"gomodules.xyz/jsonpatch/v2"
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
	return admission.Patched("added the readiness gates of the policies that select the pod", gatePatches(pod, gates)...)
}

// gatePatches adds the gates to the end of the pod's spec.readinessGates and
// touches nothing else. A patch computed from the pod as this build decodes
// and re-encodes it would remove every field an API server newer than the
// build sends, from every pod it gates.
func gatePatches(pod *corev1.Pod, gates []string) []jsonpatch.JsonPatchOperation {
	added := make([]corev1.PodReadinessGate, 0, len(gates))
	for _, g := range gates {
		added = append(added, corev1.PodReadinessGate{ConditionType: corev1.PodConditionType(g)})
	}
	if len(pod.Spec.ReadinessGates) == 0 {
		// Also replaces an explicit null or empty list.
		return []jsonpatch.JsonPatchOperation{jsonpatch.NewOperation("add", "/spec/readinessGates", added)}
	}
	ops := make([]jsonpatch.JsonPatchOperation, 0, len(added))
	for _, g := range added {
		ops = append(ops, jsonpatch.NewOperation("add", "/spec/readinessGates/-", g))
	}
	return ops
}
