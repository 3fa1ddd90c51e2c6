package v1alpha1

// Policy condition types.
const (
	// ConditionAccepted is True when the expressions compiled and the policy owns its pods.
	ConditionAccepted = "Accepted"
	// ConditionProgressing is True while some matched pods are not yet True.
	ConditionProgressing = "Progressing"
	// ConditionReady is True when every matched pod is True.
	ConditionReady = "Ready"
	// ConditionReconciling is kstatus's: True while some matched pods have
	// not been evaluated under the policy's current generation.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is kstatus's: True while the policy cannot work as
	// written (it does not compile, a source is not allowed, a conflict).
	ConditionStalled = "Stalled"
)

// Reasons on the policy's conditions.
const (
	ReasonCompiled          = "Compiled"
	ReasonInvalidExpression = "InvalidExpression"
	ReasonInvalidSelector   = "InvalidSelector"
	ReasonInvalidSource     = "InvalidSource"
	ReasonConflict          = "Conflict"
	ReasonSuspended         = "Suspended"
	ReasonAllPodsReady      = "AllPodsReady"
	ReasonPodsNotReady      = "PodsNotReady"
	ReasonNoPods            = "NoMatchingPods"
	ReasonEvaluatingPods    = "EvaluatingPods"
	ReasonAllPodsEvaluated  = "AllPodsEvaluated"
	ReasonWorking           = "Working"

	// ReasonSourceNotAllowed: the policy names a source the operator's
	// administrator does not allow (a Prometheus URL outside
	// --prometheus-allowed-urls).
	ReasonSourceNotAllowed = "SourceNotAllowed"

	// ReasonConditionTypeReserved: the policy's conditionType belongs to
	// another controller, as the operator's administrator says
	// (--reserved-condition-types): the policy touches no pod.
	ReasonConditionTypeReserved = "ConditionTypeReserved"
)

// Reasons on the pod condition a policy owns.
const (
	ReasonExpressionTrue    = "ExpressionTrue"
	ReasonExpressionFalse   = "ExpressionFalse"
	ReasonEvaluationError   = "EvaluationError"
	ReasonSourceUnavailable = "SourceUnavailable"
	ReasonTimedOut          = "TimedOut"
	ReasonPolicyDeleted     = "PolicyDeleted"
	ReasonDryRun            = "DryRun"
	// ReasonNotSelected releases a gate the operator wrote on a pod that no
	// policy gates any more (relabelled pod, edited selector).
	ReasonNotSelected = "NotSelected"
	// ReasonFlipDeferred is the Event of a True-to-False flip that
	// maxUnavailable holds back.
	ReasonFlipDeferred = "FlipDeferred"
)

// Finalizer keeps a policy with onDelete: Release until its gates are released.
const Finalizer = "readygate.io/release"
