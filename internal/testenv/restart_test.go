package testenv_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("restarting kube-apiserver", Serial, func() {
	It("keeps the address, the credentials and the data, and the simulator follows", func(ctx SpecContext) {
		before := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before-restart", Namespace: "default"}}
		Expect(k8s.Create(ctx, before)).To(Succeed())

		Expect(cp.RestartAPIServer()).To(Succeed())

		By("the old client, with its certificate, reads what etcd kept")
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(before), &corev1.ConfigMap{}) }).Should(Succeed())
		By("the simulator's watches reconnected: a new pod runs")
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "after-restart", Namespace: "default"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
		}
		Expect(k8s.Create(ctx, pod)).To(Succeed())
		Eventually(func() corev1.PodPhase {
			got := &corev1.Pod{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(pod), got)
			return got.Status.Phase
		}).Should(Equal(corev1.PodRunning))
	})
})
