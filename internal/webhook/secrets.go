package webhook

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/sources"
)

// secretRef is one Secret a policy names, with the field (a SecretKeyRef)
// that names it.
type secretRef struct {
	path *field.Path
	name string
}

// secretRefs lists the Secrets the prometheus source names.
func secretRefs(p *v1alpha1.ReadinessGatePolicy) []secretRef {
	s := prometheusOf(p)
	if s == nil {
		return nil
	}
	prom := field.NewPath("spec", "sources", "prometheus")
	var refs []secretRef
	if r := s.BearerTokenSecretRef; r != nil {
		refs = append(refs, secretRef{prom.Child("bearerTokenSecretRef"), r.Name})
	}
	if r := s.CASecretRef; r != nil {
		refs = append(refs, secretRef{prom.Child("caSecretRef"), r.Name})
	}
	return refs
}

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// secretErrors asks the API server whether the user writing the policy may
// get every Secret it names: the operator reads them with its own rights and
// uses them for what the policy says, so a policy would otherwise lend its
// author a Secret they cannot read. An update that leaves their use alone
// (the prometheus source and the expressions that show its results) is not
// checked again, so a policy stays suspendable, updatable and deletable after
// its author loses access; any other change of them is the author's use of
// the Secrets, and all are checked. old is nil on create. A review that
// cannot be made denies the policy, since allowing it would skip the check.
func (v *PolicyValidator) secretErrors(ctx context.Context, old, p *v1alpha1.ReadinessGatePolicy) (field.ErrorList, error) {
	refs := secretRefs(p)
	if len(refs) == 0 || old != nil && sameSecretUse(old, p) {
		return nil, nil
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the user who writes the policy: %w", err)
	}
	user := req.UserInfo
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	var errs field.ErrorList
	for _, r := range refs {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: p.Namespace, Verb: "get", Resource: "secrets", Name: r.name},
		}}
		if err := v.Access.Create(ctx, review); err != nil {
			return nil, fmt.Errorf("asking whether %s may get Secret %s named in %s: %w", user.Username, r.name, r.path, err)
		}
		if !review.Status.Allowed {
			errs = append(errs, field.Forbidden(r.path.Child("name"), fmt.Sprintf(
				"user %q may not get Secret %q in namespace %q: a policy may name only a Secret its author may get (grant get on it, e.g. with a Role limited by resourceNames)",
				user.Username, r.name, p.Namespace)))
		}
	}
	return errs, nil
}

// sameSecretUse reports whether an update leaves alone where the policy's
// Secrets go and what they read (the prometheus source), and what the policy
// shows of the results (its expressions).
func sameSecretUse(old, p *v1alpha1.ReadinessGatePolicy) bool {
	return equality.Semantic.DeepEqual(prometheusOf(old), prometheusOf(p)) && sameExpressions(old, p)
}

func prometheusOf(p *v1alpha1.ReadinessGatePolicy) *v1alpha1.PrometheusSource {
	if p.Spec.Sources == nil {
		return nil
	}
	return p.Spec.Sources.Prometheus
}

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=selfsubjectaccessreviews,verbs=create

// secretWarnings warns when the prometheus source names a Secret that the
// operator may not read: it reads Secrets only in namespaces where the
// Secret reader ClusterRole is bound, and the source would stay unavailable.
// A review that fails only costs the warning.
func (v *PolicyValidator) secretWarnings(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) admission.Warnings {
	var warnings admission.Warnings
	for _, r := range secretRefs(p) {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: p.Namespace, Verb: "get", Resource: "secrets", Name: r.name},
		}}
		if err := v.Access.Create(ctx, review); err != nil || review.Status.Allowed {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("%s: readygate may not read Secret %s in namespace %s, so the prometheus source stays unavailable: bind the ClusterRole %s to its service account in this namespace",
			r.path, r.name, p.Namespace, sources.SecretReaderClusterRole))
	}
	return warnings
}
