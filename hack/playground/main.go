// Command playground is what `make run` runs: the manager against the current
// kubeconfig or, when no cluster is reachable, against a local control plane
// with a pod simulator that it starts itself. Ctrl-C stops everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/readygate/readygate/internal/testenv"
)

func main() {
	manager := flag.String("manager", "bin/manager", "The manager binary to run.")
	crds := flag.String("crds", "config/crd/bases", "Directory of the CRDs to install.")
	kubeconfigOut := flag.String("kubeconfig-out", "bin/playground.kubeconfig", "Where to write the local control plane's kubeconfig.")
	flag.Parse()

	// The control plane and the pod simulator log through controller-runtime;
	// only their errors are worth a newcomer's terminal.
	ctrllog.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *manager, *crds, *kubeconfigOut, flag.Args()); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "playground:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, manager, crds, kubeconfigOut string, managerArgs []string) error {
	metrics, probes, err := freePorts()
	if err != nil {
		return err
	}
	// Arguments given to make run come later and win.
	managerArgs = append([]string{"--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + probes}, managerArgs...)
	if cfg, name, ok := reachableCluster(); ok {
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		running, err := runningOperator(ctx, c, time.Now())
		if err != nil {
			return err
		}
		if running != "" {
			return fmt.Errorf("readygate already runs in the cluster of your kubeconfig (%s): %s. "+
				"A second operator would write the same gates, and from outside the pod network would take pods out of traffic; "+
				"point your kubeconfig at another cluster, or run `KUBECONFIG=/dev/null make run` for a local control plane", name, running)
		}
		fmt.Printf("Using the cluster of your kubeconfig (%s). The operator's metrics are on http://%s/metrics.\n", name, metrics)
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true}); err != nil {
			return fmt.Errorf("installing the CRDs: %w", err)
		}
		return runManager(ctx, manager, os.Getenv("KUBECONFIG"), managerArgs)
	}

	fmt.Println("No reachable cluster in your kubeconfig: starting a local control plane (etcd, kube-apiserver) and a pod simulator.")
	cp, err := testenv.Start(testenv.Options{CRDDirectoryPaths: []string{crds}, Simulator: true})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("Stopping the local control plane.")
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "playground:", err)
		}
	}()
	data, err := os.ReadFile(cp.KubeconfigPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfigOut, data, 0o600); err != nil {
		return err
	}
	abs, _ := filepath.Abs(kubeconfigOut)
	fmt.Printf(nextSteps, abs, metrics, probes)

	// The simulated pods live on loopback, which the operator denies by
	// default; arguments given to make run come later and win.
	return runManager(ctx, manager, abs, append([]string{"--source-deny-cidrs="}, managerArgs...))
}

// nextSteps is the walkthrough printed once the control plane is up.
const nextSteps = `
The local control plane is up, with the operator on it. In another terminal:

  export KUBECONFIG=%s
  kubectl apply -f config/samples/pods.yaml                      # two pods with a readiness gate, one without
  kubectl apply -f config/samples/readygate_v1alpha1_label.yaml  # a policy: the gate is True once the pod is labelled warm=true
  kubectl get pods -o wide          # READINESS GATES: checkout-0 0/1 (not Ready), checkout-1 1/1
  bin/kubectl-rgp explain pod/checkout-0   # why checkout-0 is not ready, and what would change it
  kubectl label pod checkout-0 warm=true
  kubectl get pods -o wide          # READINESS GATES: checkout-0 1/1, Ready
  kubectl get rgp                   # MATCHED 2, READY 2

The operator's metrics are on http://%s/metrics and its probes on http://%s/readyz.
Ctrl-C stops the operator, the simulator and the control plane.

`

// freePorts picks free loopback ports for the manager's metrics and probes,
// so a busy 8080 or 8081 does not stop make run.
func freePorts() (metrics, probes string, err error) {
	if metrics, err = testenv.FreeLoopbackAddr(); err != nil {
		return "", "", fmt.Errorf("finding a free port for the metrics: %w", err)
	}
	if probes, err = testenv.FreeLoopbackAddr(); err != nil {
		return "", "", fmt.Errorf("finding a free port for the probes: %w", err)
	}
	return metrics, probes, nil
}

// reachableCluster loads the kubeconfig the way kubectl does and asks the
// server for its version.
func reachableCluster() (*rest.Config, string, bool) {
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", false
	}
	cfg.Timeout = 5 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, "", false
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, "", false
	}
	raw, _ := loader.RawConfig()
	return cfg, raw.CurrentContext, true
}

// runManager runs the manager until ctx ends, then stops it gracefully.
func runManager(ctx context.Context, manager, kubeconfig string, args []string) error {
	cmd := exec.Command(manager, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	if kubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
		return fmt.Errorf("the manager exited: %w", waitErr)
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}
}
