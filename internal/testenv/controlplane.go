package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// K8sVersion is the version of the control-plane binaries the project builds.
const K8sVersion = "1.37.2"

// Options configure a control plane.
type Options struct {
	// CRDDirectoryPaths are installed before Start returns.
	CRDDirectoryPaths []string
	// Controllers also runs kube-controller-manager with these controllers,
	// e.g. "endpointslice-controller" for tests that need real EndpointSlices.
	Controllers []string
	// Simulator runs the kubelet simulator for every pod until Stop.
	Simulator bool
	// WebhookManifests are installed, pointed at a local webhook server
	// (see WebhookServer).
	WebhookManifests []string
	// WebhookClientCert makes kube-apiserver present a client certificate
	// to the webhooks it calls; WebhookClientCAFile is its CA.
	WebhookClientCert bool
	// Output receives the control plane's logs; nil discards them.
	Output io.Writer
}

// ControlPlane is a running etcd, kube-apiserver and, optionally,
// kube-controller-manager.
type ControlPlane struct {
	Config *rest.Config
	// KubeconfigPath is an admin kubeconfig for the control plane.
	KubeconfigPath string
	// WebhookClientCAFile signed the certificate kube-apiserver presents to
	// webhooks, with Options.WebhookClientCert.
	WebhookClientCAFile string

	env     *envtest.Environment
	dir     string
	kcm     *exec.Cmd
	kcmDone chan struct{}
	kcmErr  error

	stopSim context.CancelFunc
	simDone chan error
}

// AssetsDir is where the binaries are: KUBEBUILDER_ASSETS when set, otherwise
// bin/k8s/<version>-<os>-<arch> of the repository that holds this package.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	return filepath.Join(root, "bin", "k8s", fmt.Sprintf("%s-%s-%s", K8sVersion, runtime.GOOS, runtime.GOARCH))
}

// Start starts the control plane and installs the CRDs.
func Start(opts Options) (*ControlPlane, error) {
	assets := AssetsDir()
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("control-plane binaries not found in %s (run `make controlplane`): %w", assets, err)
	}
	dir, err := os.MkdirTemp("", "readygate-controlplane-")
	if err != nil {
		return nil, err
	}
	// kube-apiserver's certificates in a directory of ours rather than one
	// it allocates and removes when it stops: RestartAPIServer reuses them.
	api := &envtest.APIServer{CertDir: filepath.Join(dir, "apiserver")}
	if err := os.Mkdir(api.CertDir, 0o700); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        opts.CRDDirectoryPaths,
		ErrorIfCRDPathMissing:    len(opts.CRDDirectoryPaths) > 0,
		AttachControlPlaneOutput: opts.Output != nil,
		ControlPlaneStartTimeout: 2 * time.Minute,
		WebhookInstallOptions:    envtest.WebhookInstallOptions{Paths: opts.WebhookManifests},
	}
	env.ControlPlane.APIServer = api
	var clientCA string
	if opts.WebhookClientCert {
		admission, caFile, err := webhookClientCert(dir)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("making the webhook client certificate: %w", err), os.RemoveAll(dir))
		}
		api.Configure().Set("admission-control-config-file", admission)
		clientCA = caFile
	}
	if opts.Output != nil {
		api.Out, api.Err = opts.Output, opts.Output
		env.ControlPlane.Etcd = &envtest.Etcd{Out: opts.Output, Err: opts.Output}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("starting kube-apiserver and etcd: %w", err), os.RemoveAll(dir))
	}
	cp := &ControlPlane{Config: cfg, env: env, dir: dir, WebhookClientCAFile: clientCA}
	if err := cp.writeKubeconfig(); err != nil {
		return nil, errors.Join(err, cp.Stop())
	}
	if len(opts.Controllers) > 0 {
		if err := cp.startControllerManager(opts.Controllers, opts.Output); err != nil {
			return nil, errors.Join(err, cp.Stop())
		}
	}
	if opts.Simulator {
		var ctx context.Context
		ctx, cp.stopSim = context.WithCancel(context.Background())
		cp.simDone = make(chan error, 1)
		go func() { cp.simDone <- NewSimulator().Run(ctx, cfg) }()
	}
	return cp, nil
}

// EtcdURL is etcd's client address, which also serves its /metrics.
func (cp *ControlPlane) EtcdURL() string { return cp.env.ControlPlane.Etcd.URL.String() }

func (cp *ControlPlane) writeKubeconfig() error {
	user, err := cp.env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating the admin user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	cp.KubeconfigPath = filepath.Join(cp.dir, "kubeconfig")
	return os.WriteFile(cp.KubeconfigPath, kubeconfig, 0o600)
}

func (cp *ControlPlane) startControllerManager(controllers []string, out io.Writer) error {
	cmd := exec.Command(filepath.Join(AssetsDir(), "kube-controller-manager"),
		"--kubeconfig="+cp.KubeconfigPath,
		"--authentication-kubeconfig="+cp.KubeconfigPath,
		"--authorization-kubeconfig="+cp.KubeconfigPath,
		"--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-service-endpoint-syncs=5",
		"--endpointslice-updates-batch-period=0s",
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting kube-controller-manager: %w", err)
	}
	cp.kcm = cmd
	cp.kcmDone = make(chan struct{})
	go func() {
		cp.kcmErr = cmd.Wait()
		close(cp.kcmDone)
	}()
	// Fail fast on a bad flag rather than let a test wait for slices that never come.
	select {
	case <-cp.kcmDone:
		return fmt.Errorf("kube-controller-manager exited at start: %w", cp.kcmErr)
	case <-time.After(500 * time.Millisecond):
		return nil
	}
}

// WebhookOptions are the address and certificate that the installed webhook
// configurations call.
func (cp *ControlPlane) WebhookOptions() webhook.Options {
	o := cp.env.WebhookInstallOptions
	return webhook.Options{Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir}
}

// WebhookServer returns a server with the WebhookOptions.
func (cp *ControlPlane) WebhookServer() webhook.Server {
	return webhook.NewServer(cp.WebhookOptions())
}

// RestartAPIServer kills kube-apiserver (SIGKILL: a crash, or the kubelet
// ending it after its grace period; a SIGTERM drains connected watches for
// over a minute) and starts it again on the same port, with the same
// certificates, users and etcd: clients see their connections reset and
// their watches end, then reconnect to the same address. It returns once
// the new one is healthy.
func (cp *ControlPlane) RestartAPIServer() error {
	api := cp.env.ControlPlane.GetAPIServer()
	pid, err := processListening("kube-apiserver", "--secure-port="+api.Port)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing kube-apiserver (pid %d): %w", pid, err)
	}
	if err := api.Stop(); err != nil { // reaps the killed process
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	return nil
}

// processListening finds the pid of the process named binary whose
// arguments include arg: envtest does not expose the processes it starts.
func processListening(binary, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == binary && slices.Contains(args, arg) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no %s process with %s", binary, arg)
}

// Stop stops the simulator and kube-controller-manager first and
// kube-apiserver and etcd last.
func (cp *ControlPlane) Stop() error {
	var errs []error
	if cp.stopSim != nil {
		cp.stopSim()
		if err := <-cp.simDone; err != nil {
			errs = append(errs, fmt.Errorf("the pod simulator: %w", err))
		}
	}
	if cp.kcm != nil {
		_ = cp.kcm.Process.Signal(os.Interrupt)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		select {
		case <-cp.kcmDone:
		case <-ctx.Done():
			_ = cp.kcm.Process.Kill()
			<-cp.kcmDone
		}
		cancel()
	}
	if err := cp.env.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
	}
	if cp.dir != "" {
		errs = append(errs, os.RemoveAll(cp.dir))
	}
	return errors.Join(errs...)
}
