// Package sources fetches what policies read besides the pod: an HTTP GET and
// a Prometheus scrape against the pod's own IP, PromQL results for a policy's
// pods, and the EndpointSlice entries that carry a pod. Fetches run in a
// bounded worker pool, at most once per pod, source and interval however many
// policies read them, and never block a reconcile.
package sources
