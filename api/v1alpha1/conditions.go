package v1alpha1

// Policy condition types.
const (
	// ConditionAccepted is True when the expressions compiled and the policy owns its pods.
	ConditionAccepted = "Accepted"
	// ConditionProgressing is True while some matched pods are not yet True.
	ConditionProgressing = "Progressing"
	// ConditionReady is True when every matched pod is True.
	ConditionReady = "Ready"
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
)

// Finalizer keeps a policy with onDelete: Release until its gates are released.
const Finalizer = "readygate.io/release"
