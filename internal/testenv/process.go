package testenv

import (
	"os"
	"os/exec"
	"time"
)

// StopProcess interrupts a started process and kills it if it has not
// exited after grace, as the kubelet does after terminationGracePeriodSeconds,
// so that a manager stuck in shutdown cannot hang a suite.
func StopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}
