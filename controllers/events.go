package controllers

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
)

// seriesRecorder records Events about the objects it is given referred to
// without their resourceVersion. client-go's events broadcaster counts an
// Event that repeats another (same object, type, reason, action and related
// object) in a series on one Event object, and in one entry of its cache;
// but it compares the objects' references, which carry the resourceVersion,
// and every flip writes the pod and the policy's status. Each flip of a
// flapping pod was then an Event object of its own, written to etcd and
// kept in the operator's memory for up to 12 minutes: a tenant's thousands
// of pods flipping every second wrote thousands of Events a second.
type seriesRecorder struct {
	scheme *runtime.Scheme
	events events.EventRecorder
}

func (r seriesRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.events.Eventf(r.unversioned(regarding), r.unversioned(related), eventtype, reason, action, note, args...)
}

// unversioned refers to obj without its resourceVersion. Nil stays nil, and
// an object the scheme cannot name is passed on as it is, for the recorder
// to report as it would have.
func (r seriesRecorder) unversioned(obj runtime.Object) runtime.Object {
	if obj == nil {
		return nil
	}
	ref, err := reference.GetReference(r.scheme, obj)
	if err != nil {
		return obj
	}
	ref.ResourceVersion = ""
	return ref
}
