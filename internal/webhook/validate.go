package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/gate"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
	"github.com/readygate/readygate/internal/sources"
)

// PolicyValidator rejects a policy whose selector, query templates or
// expressions are invalid, with every error and its field, and warns about
// conflicts, selected pods that lack the gate, and Secrets the operator may
// not read.
type PolicyValidator struct {
	Env *cel.Env
	// Pods and Cache read the pods and policies the warnings look at: the
	// manager's cache, which every replica keeps and which holds only what
	// selection reads, so that no admission, however often made, copies a
	// namespace's pods. A pod the cache has not seen yet only misses a
	// warning.
	Pods  *podcache.Index
	Cache client.Reader
	// API counts the namespace's policies live, for the cap.
	API client.Reader
	// Access asks the API server what the operator itself may do.
	Access client.Client
	// MaxPerNamespace is the most policies one namespace may hold; 0, no cap.
	MaxPerNamespace int
	// Reserved are the condition types other controllers own.
	Reserved policy.ConditionTypes
}

var _ admission.Validator[*v1alpha1.ReadinessGatePolicy] = (*PolicyValidator)(nil)

// ValidateCreate validates a new policy, and refuses it when its namespace
// holds MaxPerNamespace already. Counted live, so concurrent creates may
// pass it by a few; the cap bounds a tenant's cost, not an exact count.
func (v *PolicyValidator) ValidateCreate(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) (admission.Warnings, error) {
	if v.MaxPerNamespace > 0 {
		// Metadata only: a count needs no specs, however large.
		peers := &metav1.PartialObjectMetadataList{}
		peers.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("ReadinessGatePolicyList"))
		if err := v.API.List(ctx, peers, client.InNamespace(p.Namespace)); err != nil {
			return nil, err
		}
		if len(peers.Items) >= v.MaxPerNamespace {
			return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("readinessgatepolicies").GroupResource(), p.Name, fmt.Errorf(
				"namespace %s already holds %d ReadinessGatePolicies, the most readygate admits in one namespace (--max-policies-per-namespace): delete one, or ask your administrator to raise the cap",
				p.Namespace, len(peers.Items)))
		}
	}
	return v.validate(ctx, nil, p)
}

// ValidateUpdate validates a changed policy. A change that leaves the spec
// alone (the operator's finalizer, labels) always passes, so a policy that
// slipped in while the webhook was down can still be reported and deleted.
// A policy being deleted changes its spec no more: a finalizer of its
// author's own could hold it there for good, its release still reads the
// spec, and the spec would otherwise escape validation.
func (v *PolicyValidator) ValidateUpdate(ctx context.Context, old, p *v1alpha1.ReadinessGatePolicy) (admission.Warnings, error) {
	if equality.Semantic.DeepEqual(old.Spec, p.Spec) {
		return nil, nil
	}
	if p.DeletionTimestamp != nil {
		return nil, apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("ReadinessGatePolicy").GroupKind(), p.Name, field.ErrorList{
			field.Forbidden(field.NewPath("spec"), "the policy is being deleted: its spec can no longer change"),
		})
	}
	return v.validate(ctx, old, p)
}

// sameExpressions reports whether an update leaves the expressions as stored:
// they compile as stored expressions then, as ValidatingAdmissionPolicy does,
// so a policy that an older operator accepted stays updatable.
func sameExpressions(old, p *v1alpha1.ReadinessGatePolicy) bool {
	return old.Spec.Expression == p.Spec.Expression && old.Spec.MessageExpression == p.Spec.MessageExpression &&
		equality.Semantic.DeepEqual(old.Spec.Variables, p.Spec.Variables)
}

// switchesOnly reports whether an update changes no more of the spec than
// suspend and mode. A stored policy that stopped compiling (an upgrade
// pruned its queries, it was written where no webhook was in the path)
// holds its pods' gates False until failOpenAfter: its author must be able
// to throw these break-glass switches without first mending what the
// upgrade broke, or delete it, which loses it and, with onDelete: Retain,
// releases nothing.
func switchesOnly(old, p *v1alpha1.ReadinessGatePolicy) bool {
	spec := old.Spec
	spec.Suspend, spec.Mode = p.Spec.Suspend, p.Spec.Mode
	return equality.Semantic.DeepEqual(spec, p.Spec)
}

// ValidateDelete allows every deletion.
func (v *PolicyValidator) ValidateDelete(context.Context, *v1alpha1.ReadinessGatePolicy) (admission.Warnings, error) {
	return nil, nil
}

// validate checks a new policy (old nil) or a changed one.
func (v *PolicyValidator) validate(ctx context.Context, old, p *v1alpha1.ReadinessGatePolicy) (admission.Warnings, error) {
	stored := old != nil && sameExpressions(old, p)
	var errs field.ErrorList
	if old == nil || !switchesOnly(old, p) {
		errs = fieldErrors(policy.Compile(v.Env, p, stored, nil), p)
	}
	// A new or changed selector only: one stored before the caps stays
	// updatable.
	if old == nil || !equality.Semantic.DeepEqual(old.Spec.Selector, p.Spec.Selector) {
		if err := policy.SelectorWithinCaps(&p.Spec.Selector); err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "selector"), err.Error()))
		}
	}
	// On create only: conditionType is immutable, and a policy stored before
	// its type was reserved stays updatable and deletable.
	if err := v.Reserved.Check(p.Spec.ConditionType); old == nil && err != nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "conditionType"), err.Error()))
	}
	denied, err := v.secretErrors(ctx, old, p)
	if err != nil {
		return nil, err
	}
	if errs = append(errs, denied...); len(errs) > 0 {
		return nil, apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind("ReadinessGatePolicy").GroupKind(), p.Name, errs)
	}
	warnings := admission.Warnings(policy.Warnings(p))
	warnings = append(warnings, v.secretWarnings(ctx, p)...)
	more, err := v.podWarnings(ctx, p)
	return append(warnings, more...), err
}

// fieldErrors turns what makes the compiled policy unusable into field errors.
func fieldErrors(c *policy.Compiled, p *v1alpha1.ReadinessGatePolicy) field.ErrorList {
	var invalid *policy.InvalidError
	if c.Err == nil || !errors.As(c.Err, &invalid) {
		return nil
	}
	var ce *cel.CompileError
	switch {
	case errors.As(invalid.Err, &ce):
		errs := make(field.ErrorList, 0, len(ce.Errors))
		for _, fe := range ce.Errors {
			errs = append(errs, field.Invalid(pathOf(fe.Field), expressionAt(p, fe.Field), fe.Detail))
		}
		return errs
	case invalid.Reason == v1alpha1.ReasonInvalidSelector:
		// The API's own selector validation names the requirement and field.
		path := field.NewPath("spec", "selector")
		if errs := metav1validation.ValidateLabelSelector(&p.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, path); len(errs) > 0 {
			return errs
		}
		// Not the selector itself as the value: it may be megabytes.
		return field.ErrorList{field.Forbidden(path, strings.TrimPrefix(invalid.Err.Error(), "spec.selector: "))}
	case invalid.Reason == v1alpha1.ReasonInvalidSource:
		var errs field.ErrorList
		for i, q := range p.Spec.Sources.Prometheus.Queries {
			if _, err := sources.RenderQuery(q.Query, p.Namespace); err != nil {
				errs = append(errs, field.Invalid(field.NewPath("spec", "sources", "prometheus", "queries").Index(i).Child("query"), q.Query, err.Error()))
			}
		}
		if len(errs) == 0 {
			errs = field.ErrorList{field.Invalid(field.NewPath("spec", "sources", "prometheus"), "", invalid.Err.Error())}
		}
		return errs
	default:
		return field.ErrorList{field.Invalid(field.NewPath("spec"), "", invalid.Err.Error())}
	}
}

// podWarnings looks at the pods the policy selects: some may already be
// decided by an older policy for the same condition, and some may lack the
// gate, which a pod only gets when it is created.
func (v *PolicyValidator) podWarnings(ctx context.Context, p *v1alpha1.ReadinessGatePolicy) (admission.Warnings, error) {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil {
		return nil, nil
	}
	pods, err := v.Pods.Selected(p.Namespace, sel)
	if err != nil {
		return nil, err
	}
	peers := &v1alpha1.ReadinessGatePolicyList{}
	if err := v.Cache.List(ctx, peers, client.InNamespace(p.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var warnings admission.Warnings
	missing := 0
	for _, obj := range pods {
		if gates, _ := podcache.Readiness(obj); !gate.Declares(gates, p.Spec.ConditionType) {
			missing++
		}
	}
	for i := range peers.Items {
		peer := &peers.Items[i]
		if peer.Name == p.Name || peer.DeletionTimestamp != nil || peer.Spec.ConditionType != p.Spec.ConditionType {
			continue
		}
		if pod, ok := firstSelected(&peer.Spec.Selector, pods); ok {
			warnings = append(warnings, fmt.Sprintf("policy %s also decides %s on pod %s: the older of the two policies decides it and the other reports Accepted=False, reason Conflict",
				peer.Name, p.Spec.ConditionType, pod))
		}
	}
	if missing > 0 {
		warnings = append(warnings, fmt.Sprintf("%d selected pods do not list %s in spec.readinessGates and cannot be gated until they are recreated: label the namespace readygate.io/inject=enabled to have new pods get the gate, then restart the workload",
			missing, p.Spec.ConditionType))
	}
	return warnings, nil
}

// firstSelected returns the name of the first pod the selector matches. It
// parses the selector once: a parse of one at the caps costs a quarter of a
// millisecond, and a tenant's 99 peers parsed once per pod of a namespace
// of hundreds took the admission past the webhook's timeout.
func firstSelected(selector *metav1.LabelSelector, pods []metav1.Object) (string, bool) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return "", false
	}
	for _, pod := range pods {
		if sel.Matches(labels.Set(pod.GetLabels())) {
			return pod.GetName(), true
		}
	}
	return "", false
}

// pathOf turns "spec.variables[1].expression" into a field path.
func pathOf(s string) *field.Path {
	var idx int
	var name string
	if _, err := fmt.Sscanf(s, "spec.variables[%d].%s", &idx, &name); err == nil {
		return field.NewPath("spec", "variables").Index(idx).Child(name)
	}
	return field.NewPath("spec").Child(s[len("spec."):])
}

func expressionAt(p *v1alpha1.ReadinessGatePolicy, path string) string {
	switch path {
	case "spec.expression":
		return p.Spec.Expression
	case "spec.messageExpression":
		return p.Spec.MessageExpression
	}
	var idx int
	if _, err := fmt.Sscanf(path, "spec.variables[%d]", &idx); err == nil && idx < len(p.Spec.Variables) {
		return p.Spec.Variables[idx].Expression
	}
	return ""
}
