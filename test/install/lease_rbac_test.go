package install_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/readygate/readygate/controllers"
)

// The operators namespace is shared by every operator OLM installs for the
// cluster: the CSV's namespaced permissions (leader election) must not let
// readygate's service account touch the others' leases, which hold their
// leaders.
var _ = Describe("the CSV's leader-election permissions", func() {
	may := func(ctx SpecContext, verb, name string) bool {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "system:serviceaccount:" + operatorNamespace + ":" + installed.ServiceAccount,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: operatorNamespace, Verb: verb, Group: "coordination.k8s.io", Resource: "leases", Name: name,
			},
		}}
		Expect(installed.K8s.Create(ctx, review)).To(Succeed())
		return review.Status.Allowed
	}

	It("let the operator hold its own lease", func(ctx SpecContext) {
		for _, verb := range []string{"get", "update"} {
			Expect(may(ctx, verb, controllers.LeaderElectionID)).To(BeTrue(), verb)
		}
		Expect(may(ctx, "create", "")).To(BeTrue(), "create")
	})

	It("do not let it read, take over or delete another operator's lease in the shared namespace", func(ctx SpecContext) {
		for _, verb := range []string{"get", "update", "patch", "delete", "list", "watch"} {
			Expect(may(ctx, verb, "other-operator.example.com")).To(BeFalse(), verb)
		}
	})
})
