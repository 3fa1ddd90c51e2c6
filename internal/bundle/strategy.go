package bundle

import (
	"errors"
	"fmt"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// managerContainer is the container whose image a release sets.
const managerContainer = "manager"

// installStrategy is the CSV's deployment, with the RBAC of config/rbac as
// permissions (Roles) and clusterPermissions (ClusterRoles).
func installStrategy(objs *objects, image string) (operatorsv1alpha1.NamedInstallStrategy, error) {
	strategy := operatorsv1alpha1.NamedInstallStrategy{StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment}
	if len(objs.deployments) != 1 {
		return strategy, fmt.Errorf("want exactly one Deployment in the manifests, found %d", len(objs.deployments))
	}
	d := objs.deployments[0]
	spec := d.Spec.DeepCopy()
	found := false
	for i := range spec.Template.Spec.Containers {
		if spec.Template.Spec.Containers[i].Name == managerContainer {
			spec.Template.Spec.Containers[i].Image = image
			found = true
		}
	}
	if !found {
		return strategy, fmt.Errorf("deployment %s has no container named %q to set the image of", d.Name, managerContainer)
	}
	account := spec.Template.Spec.ServiceAccountName
	if !objs.serviceAccountNames[account] {
		return strategy, fmt.Errorf("deployment %s runs as service account %q, which the manifests do not define", d.Name, account)
	}
	strategy.StrategySpec.DeploymentSpecs = []operatorsv1alpha1.StrategyDeploymentSpec{{Name: d.Name, Label: d.Labels, Spec: *spec}}
	for _, b := range objs.bindings {
		perm, err := permission(objs, b, account)
		if err != nil {
			return strategy, fmt.Errorf("binding %s: %w", b.name, err)
		}
		if b.cluster {
			strategy.StrategySpec.ClusterPermissions = append(strategy.StrategySpec.ClusterPermissions, perm)
		} else {
			strategy.StrategySpec.Permissions = append(strategy.StrategySpec.Permissions, perm)
		}
	}
	if len(strategy.StrategySpec.ClusterPermissions)+len(strategy.StrategySpec.Permissions) == 0 {
		return strategy, errors.New("no RoleBinding or ClusterRoleBinding in the manifests: the operator would run without permissions")
	}
	return strategy, nil
}

// permission is what OLM grants for one binding. OLM binds the rules to the
// service account itself, so a binding may name nothing else.
func permission(objs *objects, b binding, account string) (operatorsv1alpha1.StrategyDeploymentPermissions, error) {
	perm := operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: account}
	for _, s := range b.subjects {
		if s.Kind != rbacv1.ServiceAccountKind || s.Name != account {
			return perm, fmt.Errorf("subject %s %q is not the operator's service account %q", s.Kind, s.Name, account)
		}
	}
	if b.cluster && b.roleRef.Kind != "ClusterRole" {
		return perm, fmt.Errorf("a ClusterRoleBinding must refer to a ClusterRole, not a %s", b.roleRef.Kind)
	}
	rules, ok := objs.roles[b.roleRef.Kind+"/"+b.roleRef.Name]
	if !ok {
		return perm, fmt.Errorf("refers to %s %q, which the manifests do not define", b.roleRef.Kind, b.roleRef.Name)
	}
	perm.Rules = rules
	return perm, nil
}
