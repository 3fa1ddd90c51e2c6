package main

import (
	"flag"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/readygate/readygate/controllers"
)

// lease are the leader-election timings. A standby takes over at most
// duration (plus one retry) after the leader last renewed; a leader that
// cannot renew within renewDeadline stops, so two replicas never write at
// once. controller-runtime's defaults: 15s, 10s, 2s.
type lease struct {
	duration, renewDeadline, retryPeriod time.Duration
	// shutdown is how long a stop waits for reconciles, fetches and
	// servers to end before the leader releases its lease all the same.
	// The kubelet kills the process at the pod's grace period (15 s, 5 of
	// them the preStop sleep): controller-runtime's 30 s would let it kill
	// a slow stop before the release, and the standby would wait out the
	// lease duration, the gates standing still.
	shutdown time.Duration
}

func (l *lease) bindFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.duration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby waits after the leader's last renewal before it takes the lease: the longest a dead leader's gates stand still.")
	fs.DurationVar(&l.renewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it gives up leading (and exits); less than the lease duration.")
	fs.DurationVar(&l.retryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often the leader renews and a standby tries to take the lease.")
	fs.DurationVar(&l.shutdown, "graceful-shutdown-timeout", 7*time.Second,
		"How long a stop waits for work under way before the leader releases its lease anyway; shorter than the pod's terminationGracePeriodSeconds less its preStop sleep.")
}

// validate refuses timings under which two replicas could lead at once or
// the leader could never renew, naming the flags.
func (l lease) validate() error {
	switch {
	case l.shutdown <= 0:
		return fmt.Errorf("--graceful-shutdown-timeout=%s: must be positive, or a stop would not wait for the writes under way", l.shutdown)
	case l.retryPeriod <= 0:
		return fmt.Errorf("--leader-elect-retry-period=%s: must be positive", l.retryPeriod)
	case l.renewDeadline <= l.retryPeriod:
		return fmt.Errorf("--leader-elect-renew-deadline=%s must be longer than --leader-elect-retry-period=%s, or the leader never renews in time",
			l.renewDeadline, l.retryPeriod)
	case l.duration <= l.renewDeadline:
		return fmt.Errorf("--leader-elect-lease-duration=%s must be longer than --leader-elect-renew-deadline=%s, or a standby could take the lease while the leader still writes",
			l.duration, l.renewDeadline)
	}
	return nil
}

// apply sets the timings on the manager's options. The leader releases the
// lease when it stops (a rollout, a drain), so the standby takes over at once
// rather than after the lease duration: safe because the process exits as
// soon as the manager returns.
func (l lease) apply(o *ctrl.Options) {
	o.LeaderElectionID = controllers.LeaderElectionID
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &l.duration, &l.renewDeadline, &l.retryPeriod
	o.LeaderElectionReleaseOnCancel = true
	o.GracefulShutdownTimeout = &l.shutdown
}
