package install_test

import (
	"bytes"
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/test/installtest"
)

// What OLM's catalog operator and OLM do with a bundle, done by hand, so
// that the manager can run as the CSV's service account outside a pod.

// webhookConfigurations are the configurations OLM creates from the CSV's
// webhookdefinitions for an AllNamespaces OperatorGroup: one per
// definition, with no namespaceSelector. envtest points them at the local
// webhook server.
func webhookConfigurations(csv *operatorsv1alpha1.ClusterServiceVersion) []byte {
	docs := make([][]byte, 0, len(csv.Spec.WebhookDefinitions))
	for _, def := range csv.Spec.WebhookDefinitions {
		var obj any
		meta := metav1.ObjectMeta{Name: def.GenerateName}
		switch def.Type {
		case operatorsv1alpha1.MutatingAdmissionWebhook:
			obj = &admissionregistrationv1.MutatingWebhookConfiguration{
				TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
				ObjectMeta: meta,
				Webhooks:   []admissionregistrationv1.MutatingWebhook{def.GetMutatingWebhook(operatorNamespace, nil, nil)},
			}
		case operatorsv1alpha1.ValidatingAdmissionWebhook:
			obj = &admissionregistrationv1.ValidatingWebhookConfiguration{
				TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
				ObjectMeta: meta,
				Webhooks:   []admissionregistrationv1.ValidatingWebhook{def.GetValidatingWebhook(operatorNamespace, nil, nil)},
			}
		default:
			Fail(fmt.Sprintf("webhook %s has type %s, which this test does not install", def.GenerateName, def.Type))
		}
		doc, err := yaml.Marshal(obj)
		Expect(err).NotTo(HaveOccurred())
		docs = append(docs, doc)
	}
	Expect(docs).NotTo(BeEmpty(), "the CSV describes no webhooks")
	return bytes.Join(docs, []byte("---\n"))
}

// installBundleObjects applies the bundle's CRDs and its other manifests
// (the Secret and metrics reader ClusterRoles, the metrics Service, the
// PodDisruptionBudget) in the operator's namespace as OLM would: created,
// or replaced by an upgrade's.
func installBundleObjects(ctx context.Context, c *installtest.Cluster, b *manifests.Bundle) {
	Expect(b.V1CRDs).NotTo(BeEmpty())
	for _, crd := range b.V1CRDs {
		c.Apply(ctx, crd.DeepCopy())
	}
	for _, obj := range b.Objects {
		switch obj.GetKind() {
		case "ClusterServiceVersion", "CustomResourceDefinition":
		default:
			obj = obj.DeepCopy()
			if obj.GetKind() != "ClusterRole" {
				obj.SetNamespace(operatorNamespace)
			}
			c.Apply(ctx, obj)
		}
	}
}

// installServiceAccount creates the operator's service account, unless an
// earlier version's install did, and grants it exactly the CSV's
// permissions, the way OLM names them, and returns its name.
func installServiceAccount(ctx context.Context, c *installtest.Cluster, csv *operatorsv1alpha1.ClusterServiceVersion) string {
	strategy := csv.Spec.InstallStrategy.StrategySpec
	Expect(strategy.DeploymentSpecs).To(HaveLen(1))
	account := strategy.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName
	c.Apply(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account, Namespace: operatorNamespace}})

	subjectsOf := func(sa string) []rbacv1.Subject {
		return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: operatorNamespace}}
	}
	for i, p := range strategy.Permissions {
		name := fmt.Sprintf("%s-%d", csv.Name, i)
		c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace}, Rules: p.Rules},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNamespace},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
				Subjects:   subjectsOf(p.ServiceAccountName),
			})
	}
	for i, p := range strategy.ClusterPermissions {
		name := fmt.Sprintf("%s-%d", csv.Name, i)
		c.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules},
			&rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects:   subjectsOf(p.ServiceAccountName),
			})
	}
	return account
}
