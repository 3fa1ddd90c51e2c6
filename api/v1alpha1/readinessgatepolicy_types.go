package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// OnDeletePolicy says what happens to the gates of a policy when it is deleted.
// +kubebuilder:validation:Enum=Release;Retain
type OnDeletePolicy string

const (
	// OnDeleteRelease sets the condition True on every pod the policy gated
	// before the policy goes away, so no pod is left unready forever.
	OnDeleteRelease OnDeletePolicy = "Release"
	// OnDeleteRetain leaves every condition as it is.
	OnDeleteRetain OnDeletePolicy = "Retain"
)

// Mode says whether a policy writes pod conditions.
// +kubebuilder:validation:Enum=Enforce;DryRun
type Mode string

const (
	// ModeEnforce evaluates and writes the condition on every gated pod.
	ModeEnforce Mode = "Enforce"
	// ModeDryRun evaluates and reports, and never blocks traffic: no gate is
	// injected, and a pod that declares the gate gets it True with reason
	// DryRun and the would-be verdict in the message.
	ModeDryRun Mode = "DryRun"
)

// OnErrorPolicy says what an error that says nothing about the pod does to its gate.
// +kubebuilder:validation:Enum=Hold;Fail
type OnErrorPolicy string

const (
	// OnErrorHold keeps the gate at its last status while evaluation, or a
	// source that is not the pod itself (Prometheus, a Secret, the API
	// server), fails: a monitoring outage never takes pods out of traffic.
	OnErrorHold OnErrorPolicy = "Hold"
	// OnErrorFail counts such errors as false results toward failureThreshold.
	OnErrorFail OnErrorPolicy = "Fail"
)

// Variable is a named CEL expression that the policy's expressions can read as
// `variables.<name>`. It is evaluated lazily, at most once per evaluation.
type Variable struct {
	// name is the variable's name; it must be a CEL identifier.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	Name string `json:"name"`

	// expression is the CEL expression whose result the variable holds.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=5120
	Expression string `json:"expression"`
}

// ReadinessGatePolicySpec selects pods and says how to decide their readiness gate.
// +kubebuilder:validation:XValidation:rule="!has(self.failOpenAfter) || duration(self.failOpenAfter) >= duration(self.interval)",message="failOpenAfter must not be shorter than interval"
type ReadinessGatePolicySpec struct {
	// selector picks the pods of the policy's namespace that the policy decides.
	// An empty selector selects every pod of the namespace.
	// +required
	Selector metav1.LabelSelector `json:"selector"`

	// conditionType is the pod condition the policy owns. Pods opt in by listing
	// it in spec.readinessGates. It must be domain-prefixed, such as
	// readygate.io/checkout-warm: every condition type Kubernetes owns
	// (Ready, ContainersReady, PodResizePending, ...) is unprefixed, and the
	// kubernetes.io and k8s.io domains are reserved.
	// +required
	// +kubebuilder:validation:MaxLength=316
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')",message="conditionType must be domain-prefixed, like readygate.io/checkout-warm: Kubernetes owns the unprefixed pod condition types"
	// +kubebuilder:validation:XValidation:rule="self.split('/')[self.split('/').size()-1].size() <= 63",message="the name part of conditionType must be at most 63 characters"
	// +kubebuilder:validation:XValidation:rule="!self.split('/')[0].matches('(^|[.])(kubernetes|k8s)[.]io$')",message="conditionType must not use the kubernetes.io or k8s.io domains: Kubernetes owns them"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="conditionType is immutable: pods name it in spec.readinessGates"
	ConditionType string `json:"conditionType"`

	// variables are named CEL expressions, evaluated lazily, that expression and
	// messageExpression read as `variables.<name>`. A variable may read the
	// variables listed before it.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Variables []Variable `json:"variables,omitempty"`

	// expression is the CEL expression that decides the gate. It must evaluate
	// to bool. It reads `pod`, `gate`, `now`, `variables` and the enabled sources.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=5120
	Expression string `json:"expression"`

	// messageExpression is an optional CEL expression that evaluates to the
	// string written as the condition's message.
	// +optional
	// +kubebuilder:validation:MaxLength=5120
	MessageExpression string `json:"messageExpression,omitempty"`

	// sources enable the data, besides the pod, that the expressions may read.
	// An expression that reads a source that is not enabled does not compile.
	// +optional
	Sources *Sources `json:"sources,omitempty"`

	// interval is how often each gated pod is evaluated again when nothing
	// about it changes (polled sources, thresholds, timeout).
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="interval must be between 1s and 1h"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// successThreshold is how many consecutive true results set the condition True.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	SuccessThreshold int32 `json:"successThreshold,omitempty"`

	// failureThreshold is how many consecutive false results set a True
	// condition back to False (errors count only with onError: Fail).
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureThreshold int32 `json:"failureThreshold,omitempty"`

	// failOpenAfter fails open: a pod whose containers have been ready for
	// this long while its condition is still not True is set True with reason
	// TimedOut. Unset means wait forever. It needs a running operator: while
	// the operator is down nothing fails open.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="failOpenAfter must be at least 1s"
	FailOpenAfter *metav1.Duration `json:"failOpenAfter,omitempty"`

	// timeout is failOpenAfter's name in readygate 0.1.0, kept so that the
	// policies written for it still fail open after an upgrade: without it
	// in the schema the API server drops the field. Deprecated: use
	// failOpenAfter, which wins when both are set.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="timeout must be at least 1s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// onError says what an error that says nothing about the pod does:
	// a failed evaluation, or a failure of Prometheus, a Secret read or the
	// API server. Hold (the default) keeps the gate at its last status and
	// never counts toward failureThreshold; Fail counts it as a false result.
	// The pod's own http and metrics endpoints not answering is always a
	// false result, as a failing readiness probe is.
	// +optional
	// +kubebuilder:default=Hold
	OnError OnErrorPolicy `json:"onError,omitempty"`

	// onDelete says what happens to the gated pods when the policy is deleted:
	// Release sets the condition True on every one of them, Retain leaves them.
	// +optional
	// +kubebuilder:default=Release
	OnDelete OnDeletePolicy `json:"onDelete,omitempty"`

	// mode is Enforce (decide the gate) or DryRun (evaluate and report; the
	// gate is set True with the would-be verdict in its message and never
	// blocks traffic).
	// +optional
	// +kubebuilder:default=Enforce
	Mode Mode `json:"mode,omitempty"`

	// maxUnavailable caps how many matched pods have the gate not True at
	// once, as a PodDisruptionBudget does: a True-to-False flip happens only
	// if it keeps the count within the cap; the other pods stay True, counted
	// in status.heldPods. A count, or a percentage of matchedPods rounded up;
	// 0 never takes a True gate False.
	// +optional
	// +kubebuilder:default="25%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 && self <= 2147483647 : self.matches('^(100|[1-9]?[0-9])%$')",message="maxUnavailable must be a count from 0 to 2147483647 or a percentage from 0% to 100%"
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// suspend stops evaluation and releases every gate (condition True, reason
	// Suspended): a break-glass switch.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Scheme is the scheme of a request to a pod.
// +kubebuilder:validation:Enum=HTTP;HTTPS
type Scheme string

const (
	SchemeHTTP  Scheme = "HTTP"
	SchemeHTTPS Scheme = "HTTPS"
)

// Sources enable the data an expression reads besides the pod. Each is optional.
type Sources struct {
	// endpoints makes `endpoints` available: one entry per EndpointSlice
	// endpoint that targets the pod.
	// +optional
	Endpoints *EndpointsSource `json:"endpoints,omitempty"`

	// http makes `http` available: the last response to a GET against the pod's own IP.
	// +optional
	HTTP *HTTPSource `json:"http,omitempty"`

	// metrics makes `metrics` available: the samples scraped from the pod's
	// Prometheus endpoint (text format or OpenMetrics).
	// +optional
	Metrics *MetricsSource `json:"metrics,omitempty"`

	// prometheus makes `prometheus` available: named PromQL results for the pod.
	// +optional
	Prometheus *PrometheusSource `json:"prometheus,omitempty"`
}

// EndpointsSource enables the `endpoints` variable. It has no settings.
type EndpointsSource struct{}

// PodEndpoint says where on the pod's own IP a source is fetched from.
type PodEndpoint struct {
	// port is a port number or the name of a container port.
	// +required
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 1 && self <= 65535 : self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self.size() <= 15",message="port must be a number from 1 to 65535 or a container port name"
	Port intstr.IntOrString `json:"port"`

	// path is the request path; it must start with a slash.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`

	// scheme is HTTP or HTTPS.
	// +optional
	// +kubebuilder:default=HTTP
	Scheme Scheme `json:"scheme,omitempty"`

	// insecureSkipVerify accepts any certificate the pod serves over HTTPS.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// timeout bounds one request, from 100ms to 30s.
	// +optional
	// +kubebuilder:default="1s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('30s')",message="timeout must be between 100ms and 30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// HTTPHeader is one request header.
type HTTPHeader struct {
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[-!#$%&'*+.^_|~0-9A-Za-z]+$`
	Name string `json:"name"`
	// +required
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
}

// HTTPSource is a GET against the pod's own IP; redirects are not followed.
type HTTPSource struct {
	PodEndpoint `json:",inline"`

	// headers are sent with every request.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Headers []HTTPHeader `json:"headers,omitempty"`
}

// MetricsSource scrapes the pod's Prometheus endpoint. The path defaults to /metrics.
type MetricsSource struct {
	PodEndpoint `json:",inline"`
}

// SecretKeyRef names one key of a Secret in the policy's namespace.
type SecretKeyRef struct {
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// PrometheusSource runs named PromQL queries against a Prometheus server, once
// per policy and interval for all its pods. Each query's result vector is
// matched to pods by its `pod` label.
type PrometheusSource struct {
	// address is the Prometheus server's base URL.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="address must be an http or https URL"
	Address string `json:"address"`

	// queries are the named PromQL queries; each result is read as
	// prometheus.<name>.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Queries PrometheusQueries `json:"queries"`

	// bearerTokenSecretRef names the Secret key holding a bearer token.
	// +optional
	BearerTokenSecretRef *SecretKeyRef `json:"bearerTokenSecretRef,omitempty"`

	// caSecretRef names the Secret key holding the PEM CA bundle that signs the server's certificate.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`

	// insecureSkipVerify accepts any certificate the server presents.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// timeout bounds one round of the queries, asked one after another, from
	// 100ms to 30s.
	// +optional
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('30s')",message="timeout must be between 100ms and 30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// PrometheusQuery is one named PromQL query.
type PrometheusQuery struct {
	// name is read in expressions as prometheus.<name>; it must be a CEL identifier.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z_][a-zA-Z0-9_]*$`
	Name string `json:"name"`

	// query is the PromQL query, run once per interval for all the policy's
	// pods; its result vector is matched to pods by the `pod` label.
	// {{ .Namespace }} is replaced by the policy's namespace; no other
	// template syntax is allowed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Query string `json:"query"`
}

// ReadinessGatePolicyStatus reports what the policy decided.
type ReadinessGatePolicyStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// matchedPods counts the selected pods that declare the gate. No count
	// of the status includes finished pods (Succeeded or Failed).
	// +optional
	MatchedPods int32 `json:"matchedPods"`

	// readyPods counts the matched pods whose condition is True
	// (in DryRun, would be True).
	// +optional
	ReadyPods int32 `json:"readyPods"`

	// missingGatePods counts the selected pods that do not list conditionType
	// in spec.readinessGates and therefore cannot be gated.
	// +optional
	MissingGatePods int32 `json:"missingGatePods"`

	// heldPods counts the matched pods kept True although the expression
	// says False, because taking them False would exceed maxUnavailable.
	// +optional
	HeldPods int32 `json:"heldPods"`

	// staleDataPods counts the matched pods kept True on their last good
	// result because evaluation, or a source that is not the pod itself,
	// fails (onError: Hold).
	// +optional
	StaleDataPods int32 `json:"staleDataPods"`

	// conditions are Accepted (the expressions compiled and the policy owns its
	// pods), Progressing (some matched pods are not yet True), Ready (every
	// matched pod is True), and kstatus's Reconciling (some matched pods are
	// not evaluated yet) and Stalled (the policy cannot work as written).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ReadinessGatePolicy decides a pod readiness gate from a CEL expression for
// every pod it selects in its namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rgp,categories=readygate
// +kubebuilder:printcolumn:name="Condition",type=string,JSONPath=`.spec.conditionType`
// +kubebuilder:printcolumn:name="Matched",type=integer,JSONPath=`.status.matchedPods`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyPods`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`,priority=1
// +kubebuilder:printcolumn:name="Held",type=integer,JSONPath=`.status.heldPods`,priority=1
// +kubebuilder:printcolumn:name="Stale",type=integer,JSONPath=`.status.staleDataPods`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReadinessGatePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ReadinessGatePolicySpec `json:"spec"`
	// +optional
	Status ReadinessGatePolicyStatus `json:"status,omitempty"`
}

// ReadinessGatePolicyList is a list of ReadinessGatePolicy.
// +kubebuilder:object:root=true
type ReadinessGatePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReadinessGatePolicy `json:"items"`
}
