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
)

// Setup registers both webhooks with the manager's webhook server. The
// injector never injects into operatorNamespace.
func Setup(ctx context.Context, mgr ctrl.Manager, env *cel.Env, operatorNamespace string) error {
	// Started with the manager rather than on the first admission, which
	// would otherwise wait for a full list within its timeout. Every replica
	// serves the webhooks, but only the leader's controllers ask for the
	// policies' informer: a standby must start it here, and its readiness
	// waits for it.
	for _, obj := range []client.Object{namespaceMeta(), &v1alpha1.ReadinessGatePolicy{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return err
		}
	}
	mgr.GetWebhookServer().Register(InjectPath, &webhook.Admission{Handler: &PodInjector{
		Cache: mgr.GetClient(), API: mgr.GetAPIReader(), Decoder: admission.NewDecoder(mgr.GetScheme()), OperatorNamespace: operatorNamespace,
	}})
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.ReadinessGatePolicy{}).
		WithValidator(&PolicyValidator{Env: env, API: mgr.GetAPIReader(), Access: mgr.GetClient()}).
		Complete()
}
