// Package webhook holds readygate's admission webhooks: the pod injector that
// adds the readiness gates of the policies that select a new pod, and the
// validator that rejects a policy whose expressions do not compile.
package webhook
