package webhook

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/podcache"
	"github.com/readygate/readygate/internal/policy"
)

// Options configure the webhooks.
type Options struct {
	// OperatorNamespace is never injected into.
	OperatorNamespace string
	// MaxPoliciesPerNamespace is the most policies the validator admits in
	// one namespace.
	MaxPoliciesPerNamespace int
	// ReservedConditionTypes are refused as a policy's conditionType.
	ReservedConditionTypes policy.ConditionTypes
}

// DefaultMaxPoliciesPerNamespace bounds what one namespace's policies cost
// the operator: each holds its compiled CEL, about 80 KiB, so 100 cost
// about 8 MiB, where a tenant's thousands would exhaust the memory limit.
const DefaultMaxPoliciesPerNamespace = 100

// Setup registers both webhooks with the manager's webhook server.
func Setup(ctx context.Context, mgr ctrl.Manager, env *cel.Env, opts Options) error {
	// Started with the manager rather than on the first admission, which
	// would otherwise wait for a full list within its timeout. Every replica
	// serves the webhooks, but only the leader's controllers ask for the
	// policies' informer: a standby must start it here, and its readiness
	// waits for it. The policy warnings also read the pods' informer, the
	// one the controllers read.
	for _, obj := range []client.Object{namespaceMeta(), &v1alpha1.ReadinessGatePolicy{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return err
		}
	}
	pods, err := podcache.NewIndex(ctx, mgr.GetCache())
	if err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(InjectPath, &webhook.Admission{Handler: &PodInjector{
		Cache: mgr.GetClient(), API: mgr.GetAPIReader(), Decoder: admission.NewDecoder(mgr.GetScheme()), OperatorNamespace: opts.OperatorNamespace,
	}})
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.ReadinessGatePolicy{}).
		WithValidator(&PolicyValidator{Env: env, Pods: pods, Cache: mgr.GetClient(), API: mgr.GetAPIReader(), Access: mgr.GetClient(),
			MaxPerNamespace: opts.MaxPoliciesPerNamespace, Reserved: opts.ReservedConditionTypes}).
		Complete()
}
