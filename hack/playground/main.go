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

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/readygate/readygate/internal/testenv"
)

func main() {
	manager := flag.String("manager", "bin/manager", "The manager binary to run.")
	crds := flag.String("crds", "config/crd/bases", "Directory of the CRDs to install.")
	kubeconfigOut := flag.String("kubeconfig-out", "bin/playground.kubeconfig", "Where to write the local control plane's kubeconfig.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *manager, *crds, *kubeconfigOut, flag.Args()); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "playground:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, manager, crds, kubeconfigOut string, managerArgs []string) error {
	if cfg, name, ok := reachableCluster(); ok {
		fmt.Printf("Using the cluster of your kubeconfig (%s).\n", name)
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
	fmt.Printf("\nThe local control plane is up. Point kubectl at it:\n\n  export KUBECONFIG=%s\n  kubectl apply -f config/samples/pods.yaml -f config/samples/readygate_v1alpha1_label.yaml\n  kubectl get rgp\n\n", abs)

	// The simulated pods live on loopback, which the operator denies by
	// default; arguments given to make run come later and win.
	return runManager(ctx, manager, abs, append([]string{"--source-deny-cidrs="}, managerArgs...))
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
