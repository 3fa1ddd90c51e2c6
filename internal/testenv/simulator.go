package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Annotations a test sets on a pod to steer the simulated kubelet.
const (
	// AnnotationPodIP chooses the pod's IP, e.g. a data-only 198.51.100.x
	// address for pods that real EndpointSlices must list.
	AnnotationPodIP = "sim.readygate.io/pod-ip"
	// AnnotationContainersReady set to "false" keeps the containers unready.
	AnnotationContainersReady = "sim.readygate.io/containers-ready"

	// NodeName is the one node the simulator runs every pod on. The
	// endpointslice controller lists only pods bound to a node it knows.
	NodeName = "readygate-sim"
)

// nodeRetry is how often the simulator retries registering its node.
const nodeRetry = 100 * time.Millisecond

// Simulator plays the kubelet's part for every pod in the cluster: it gives a
// pod an IP (127.0.x.y by default), runs it, and keeps its Ready condition
// computed from its containers and readiness gates.
type Simulator struct {
	client client.Client

	mu     sync.Mutex
	nextIP netip.Addr
	ips    map[types.UID]string
}

// NewSimulator returns a simulator that hands out loopback IPs from 127.0.1.1 on.
func NewSimulator() *Simulator {
	return &Simulator{nextIP: netip.MustParseAddr("127.0.1.1"), ips: map[types.UID]string{}}
}

// Run simulates the kubelet until ctx ends.
func (s *Simulator) Run(ctx context.Context, cfg *rest.Config) error {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1000, 2000
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return fmt.Errorf("creating the pod simulator: %w", err)
	}
	s.client = mgr.GetClient()
	// Retried, as a kubelet retries its registration: the API server may
	// restart (RestartAPIServer) before the node is in.
	var lastErr error
	err = wait.PollUntilContextCancel(ctx, nodeRetry, true, func(ctx context.Context) (bool, error) {
		lastErr = s.ensureNode(ctx)
		return lastErr == nil, nil
	})
	if err != nil {
		if lastErr != nil && !errors.Is(lastErr, context.Canceled) {
			return lastErr
		}
		return nil // stopped before it got going: nothing to report
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("kubelet-simulator").
		For(&corev1.Pod{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8, SkipNameValidation: ptrTo(true)}).
		Complete(s)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// Reconcile brings one pod's status to what a kubelet would report.
func (s *Simulator) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := s.client.Get(ctx, req.NamespacedName, pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A kubelet never brings a finished pod back.
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return ctrl.Result{}, nil
	}
	if pod.Spec.NodeName == "" {
		// Play the scheduler too; the binding's update event brings the pod back here.
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
			Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
		}
		return ctrl.Result{}, client.IgnoreNotFound(s.client.SubResource("binding").Create(ctx, pod, binding))
	}
	patch, changed := s.statusPatch(pod, metav1.Now())
	if !changed {
		return ctrl.Result{}, nil
	}
	// The patch holds the whole phase, so it must not land on a newer pod
	// than the one it was computed from: the API server lets a stale
	// "Running" bring back a pod a test has just finished. A conflict means
	// a newer pod is on its way here anyway.
	patch["metadata"] = map[string]any{"resourceVersion": pod.ResourceVersion}
	data, err := json.Marshal(patch)
	if err != nil {
		return ctrl.Result{}, err
	}
	err = s.client.Status().Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, data))
	if apierrors.IsConflict(err) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// ensureNode registers the simulated node, Ready, once per control plane.
// Writes go straight to the API server, so this works before the manager starts.
func (s *Simulator) ensureNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName, Labels: map[string]string{corev1.LabelHostname: NodeName}}}
	if err := s.client.Create(ctx, node); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("registering the simulated node: %w", err)
	}
	node.Status = corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
	}
	return s.client.Status().Update(ctx, node)
}

// statusPatch returns the strategic merge patch that brings the pod's status
// to what the kubelet would report. It names only the kubelet's own
// conditions, so conditions that others own are never touched.
func (s *Simulator) statusPatch(pod *corev1.Pod, now metav1.Time) (map[string]any, bool) {
	ready := containersReady(pod)
	ip := s.podIP(pod)

	containersReady := containersReadyCondition(pod, ready)
	podReady := readyCondition(pod, containersReady)
	want := []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		containersReady,
		podReady,
	}
	var conds []corev1.PodCondition
	for _, c := range want {
		cur := findCondition(pod.Status.Conditions, c.Type)
		if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message {
			continue
		}
		c.LastTransitionTime = now
		if cur != nil && cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		conds = append(conds, c)
	}
	statuses := s.containerStatuses(pod, ready, now)
	running := pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP == ip
	if len(conds) == 0 && running && statuses == nil {
		return nil, false
	}
	status := map[string]any{
		"phase":  corev1.PodRunning,
		"podIP":  ip,
		"podIPs": []map[string]string{{"ip": ip}},
		"hostIP": "127.0.0.1",
	}
	if pod.Status.StartTime == nil {
		status["startTime"] = now
	}
	if len(conds) > 0 {
		status["conditions"] = conditionPatches(conds)
	}
	if statuses != nil {
		status["containerStatuses"] = statuses
	}
	return map[string]any{"status": status}, true
}

// conditionPatches names every field of each condition, an empty reason or
// message as null: a strategic merge keeps the fields a patch leaves out, so
// a Ready turning True would keep its old "gate does not exist" message,
// which the kubelet's whole-status update clears.
func conditionPatches(conds []corev1.PodCondition) []map[string]any {
	out := make([]map[string]any, 0, len(conds))
	for _, c := range conds {
		out = append(out, map[string]any{
			"type":               c.Type,
			"status":             c.Status,
			"lastTransitionTime": c.LastTransitionTime,
			"lastProbeTime":      nil,
			"reason":             nilIfEmpty(c.Reason),
			"message":            nilIfEmpty(c.Message),
		})
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// containerStatuses returns the statuses to write, or nil when they are current.
func (s *Simulator) containerStatuses(pod *corev1.Pod, ready bool, now metav1.Time) []corev1.ContainerStatus {
	current := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.ContainerStatuses {
		current[cs.Name] = cs
	}
	changed := len(current) != len(pod.Spec.Containers)
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		cs, ok := current[c.Name]
		if !ok || cs.State.Running == nil {
			cs = corev1.ContainerStatus{
				Name:    c.Name,
				Image:   c.Image,
				ImageID: c.Image,
				State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
				Started: ptrTo(true),
			}
			changed = true
		}
		if cs.Ready != ready {
			cs.Ready = ready
			changed = true
		}
		out = append(out, cs)
	}
	if !changed {
		return nil
	}
	return out
}

// podIP returns the IP the pod has or gets: the one it already reports, the
// one a test chose by annotation, or the next free loopback address.
func (s *Simulator) podIP(pod *corev1.Pod) string {
	if ip := pod.Annotations[AnnotationPodIP]; ip != "" {
		return ip
	}
	if pod.Status.PodIP != "" {
		return pod.Status.PodIP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ip, ok := s.ips[pod.UID]; ok {
		return ip
	}
	ip := s.nextIP
	next := ip.Next()
	if b := next.As4(); b[3] == 255 { // skip x.y.z.255 and x.y.z.0
		next = next.Next().Next()
	}
	s.nextIP = next
	s.ips[pod.UID] = ip.String()
	return ip.String()
}

func ptrTo[T any](v T) *T { return &v }
