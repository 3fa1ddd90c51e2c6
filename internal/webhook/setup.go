package webhook

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
)

// Setup registers both webhooks with the manager's webhook server.
func Setup(mgr ctrl.Manager, env *cel.Env) error {
	mgr.GetWebhookServer().Register(InjectPath, &webhook.Admission{Handler: &PodInjector{
		Cache: mgr.GetClient(), Decoder: admission.NewDecoder(mgr.GetScheme()),
	}})
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.ReadinessGatePolicy{}).
		WithValidator(&PolicyValidator{Env: env, API: mgr.GetAPIReader()}).
		Complete()
}
