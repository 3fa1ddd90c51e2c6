// Package testenv runs a real control plane for tests and the local
// playground: etcd and kube-apiserver through controller-runtime's envtest,
// optionally kube-controller-manager, and a pod simulator that plays the
// kubelet's part. The manager never imports it.
package testenv
