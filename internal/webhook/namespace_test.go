package webhook_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/readygate/readygate/internal/webhook"
)

var _ = Describe("the pod injector's namespace check", func() {
	It("reads live a namespace its cache has not seen yet", func(ctx SpecContext) {
		ns := namespace(ctx, true)
		acceptedPolicy(ctx, newPolicy(ns, "warm", "true"))
		waitUntilInjecting(ctx, ns, gateType)

		// A real cache that never holds this namespace stands for one that
		// has not seen it yet.
		nsMeta := &metav1.PartialObjectMetadata{}
		nsMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		lagging, err := cache.New(cp.Config, cache.Options{Scheme: k8s.Scheme(), ByObject: map[client.Object]cache.ByObject{
			nsMeta: {Field: fields.OneTermNotEqualSelector("metadata.name", ns)},
		}})
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = lagging.Start(ctx) }()
		Expect(lagging.WaitForCacheSync(ctx)).To(BeTrue())
		Expect(apierrors.IsNotFound(lagging.Get(ctx, client.ObjectKey{Name: ns}, nsMeta.DeepCopy()))).To(BeTrue(), "the cache must lack the namespace")

		api, err := client.New(cp.Config, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		injector := &webhook.PodInjector{Cache: lagging, API: api, Decoder: admission.NewDecoder(k8s.Scheme())}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: ns, Labels: web},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		}
		raw, err := json.Marshal(pod)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			resp := injector.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				UID: "1", Namespace: ns, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
				Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			}})
			g.Expect(resp.Allowed).To(BeTrue(), "%v", resp.Result)
			g.Expect(resp.Patches).To(ContainElement(HaveField("Path", "/spec/readinessGates")))
		}).Should(Succeed()) // the lagging cache's own policy informer syncs first
	})
})
