package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	. "github.com/onsi/ginkgo/v2"
)

// rgpGate is the condition type of the kubectl-rgp specs' policies.
const rgpGate = "readygate.io/rgp-checked"

// rgpRun is one run of the plugin binary.
type rgpRun struct {
	code           int
	stdout, stderr string
}

// lines is stdout's lines, without the final newline.
func (r rgpRun) lines() []string {
	return strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
}

// rgp runs kubectl-rgp with the kubeconfig, as a user would, and waits for it.
func rgp(ctx context.Context, kubeconfig string, args ...string) rgpRun {
	cmd := exec.CommandContext(ctx, pluginBinary, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := rgpRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.code = exit.ExitCode()
	default:
		Expect(err).NotTo(HaveOccurred(), "running kubectl-rgp %v", args)
	}
	GinkgoWriter.Printf("kubectl-rgp %s: exit %d\n%s%s", strings.Join(args, " "), run.code, run.stdout, run.stderr)
	return run
}

// createNamespace creates a namespace for one spec.
func createNamespace(ctx context.Context, name string) string {
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

// gatedPod is a pod that declares rgpGate.
func gatedPod(ns, name string, labels, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: rgpGate}},
			Containers: []corev1.Container{{Name: "app", Image: "app:1",
				Ports: []corev1.ContainerPort{{ContainerPort: netnsHostPort}}}},
		},
	}
}

// gateOf polls the pod's rgpGate as "STATUS REASON", empty before the
// operator's first write.
func rgpGateOf(ctx context.Context, pod *corev1.Pod) func() string {
	return conditionOf(ctx, pod, rgpGate)
}

// conditionOf polls a pod's condition as "Status Reason"; empty while the
// pod has none.
func conditionOf(ctx context.Context, pod *corev1.Pod, conditionType corev1.PodConditionType) func() string {
	return func() string {
		c, err := podCondition(ctx, client.ObjectKeyFromObject(pod), conditionType)
		switch {
		case err != nil:
			return err.Error()
		case c == nil:
			return ""
		}
		return string(c.Status) + " " + c.Reason
	}
}

// podCondition reads a pod's condition of a type; nil when it has none.
func podCondition(ctx context.Context, key client.ObjectKey, conditionType corev1.PodConditionType) (*corev1.PodCondition, error) {
	got := &corev1.Pod{}
	if err := k8s.Get(ctx, key, got); err != nil {
		return nil, err
	}
	for i := range got.Status.Conditions {
		if got.Status.Conditions[i].Type == conditionType {
			return &got.Status.Conditions[i], nil
		}
	}
	return nil, nil
}

// setLabel sets one label of the pod.
func setLabel(ctx context.Context, pod *corev1.Pod, key, value string) {
	patch := `{"metadata":{"labels":{"` + key + `":"` + value + `"}}}`
	Expect(k8s.Patch(ctx, pod, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
}

// writeKubeconfig writes a kubeconfig for server with the user's
// credentials and returns its path.
func writeKubeconfig(server string, caData []byte, user *clientcmdapi.AuthInfo) string {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	cfg.AuthInfos["user"] = user
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "user"}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
	return path
}
