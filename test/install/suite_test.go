// Package install installs the OLM bundle the way OLM would — its CRD, and
// the service account, roles and bindings exactly as the CSV lists them —
// into a real control plane, runs the manager binary as the CSV's deployment
// runs it, authenticated with a token of that service account, and runs the
// core gating scenario (test/installtest) through the webhooks the CSV
// describes.
package install_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1 "github.com/operator-framework/api/pkg/operators/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/readygate/readygate/internal/testenv"
	"github.com/readygate/readygate/test/installtest"
)

// operatorNamespace is where OLM would install the operator for an
// AllNamespaces OperatorGroup.
const operatorNamespace = "operators"

var (
	// installed is the operator as the CSV installs it.
	installed = &installtest.Installation{Namespace: operatorNamespace}
	bundle    *manifests.Bundle
)

func TestInstall(t *testing.T) {
	installtest.Run(t, "the OLM bundle installs with exactly the CSV's permissions")
}

var _ = installtest.DescribeInstall("the OLM bundle", installed)

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	bundle, err = manifests.GetBundleFromDir(filepath.Join("..", "..", "bundle"))
	Expect(err).NotTo(HaveOccurred(), "loading bundle/ (run make bundle)")
	bin := installtest.BuildManager()

	webhooks := filepath.Join(GinkgoT().TempDir(), "webhooks.yaml")
	Expect(os.WriteFile(webhooks, webhookConfigurations(bundle.CSV), 0o600)).To(Succeed())
	installed.Cluster = installtest.StartCluster(testenv.Options{Simulator: true, WebhookManifests: []string{webhooks}}, operatorsv1.AddToScheme)
	installed.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})
	installBundleObjects(ctx, installed.Cluster, bundle)
	installed.ServiceAccount = installServiceAccount(ctx, installed.Cluster, bundle.CSV)
	kubeconfig := installed.ServiceAccountKubeconfig(ctx, operatorNamespace, installed.ServiceAccount)
	deployment := bundle.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec
	installed.StartManager(bin, kubeconfig, installtest.ManagerContainer(&deployment))
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	installed.Stop()
})
