package bundle

import (
	"encoding/json"
	"fmt"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// webhookPortName is the manager's container port that serves the webhooks.
const webhookPortName = "webhook-server"

// webhookDefinitions describe the webhook configurations for OLM, which
// creates them with a Service and a certificate of its own. OLM has no
// namespaceSelector: it selects the OperatorGroup's target namespaces (all of
// them here), which is why the pod injector checks the namespace's label
// itself. Nor has it matchConditions, so under OLM a policy's metadata-only
// updates call the validating webhook too (docs/install.md).
func webhookDefinitions(objs *objects, deployment operatorsv1alpha1.StrategyDeploymentSpec) ([]operatorsv1alpha1.WebhookDescription, error) {
	port, err := containerPort(deployment, webhookPortName)
	if err != nil {
		return nil, err
	}
	var defs []operatorsv1alpha1.WebhookDescription
	for _, w := range objs.mutating {
		def, err := describeWebhook(operatorsv1alpha1.MutatingAdmissionWebhook, w, w.Name, w.ClientConfig, deployment.Name, port)
		if err != nil {
			return nil, err
		}
		defs = append(defs, def)
	}
	for _, w := range objs.validating {
		def, err := describeWebhook(operatorsv1alpha1.ValidatingAdmissionWebhook, w, w.Name, w.ClientConfig, deployment.Name, port)
		if err != nil {
			return nil, err
		}
		defs = append(defs, def)
	}
	return defs, nil
}

// describeWebhook describes a MutatingWebhook or ValidatingWebhook. Their
// rules, policies, object selectors and timeouts have the same JSON names in
// a WebhookDescription, so a JSON round trip carries them over, and drops
// what OLM cannot express.
func describeWebhook(kind operatorsv1alpha1.WebhookAdmissionType, webhook any, name string, client admissionregistrationv1.WebhookClientConfig, deployment string, port int32) (operatorsv1alpha1.WebhookDescription, error) {
	def := operatorsv1alpha1.WebhookDescription{}
	if client.Service == nil || client.Service.Path == nil {
		return def, fmt.Errorf("webhook %s: OLM can only route to a path of the operator's own Service", name)
	}
	raw, err := json.Marshal(webhook)
	if err != nil {
		return def, err
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		return def, fmt.Errorf("webhook %s: %w", name, err)
	}
	target := intstr.FromInt32(port)
	def.GenerateName, def.Type, def.DeploymentName = name, kind, deployment
	def.ContainerPort, def.TargetPort, def.WebhookPath = 443, &target, client.Service.Path
	return def, nil
}

func containerPort(deployment operatorsv1alpha1.StrategyDeploymentSpec, name string) (int32, error) {
	for _, c := range deployment.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("deployment %s has no container port named %q for the webhooks", deployment.Name, name)
}
