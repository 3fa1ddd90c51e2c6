package v1alpha1

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// PrometheusQueries are named PromQL queries.
//
// Readygate 0.1.0 stored them as a map of name to query. Such a map, in a
// policy stored before an upgrade, failed to decode as a list, and with it
// the list of every policy in the cluster: the operator read no policy of
// any tenant. It now reads as the queries it names, or, once the API server
// prunes it against the list's schema, as none, which the policy reports.
type PrometheusQueries []PrometheusQuery

// UnmarshalJSON reads a list of queries, or 0.1.0's map of them.
func (q *PrometheusQueries) UnmarshalJSON(data []byte) error {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return json.Unmarshal(data, (*[]PrometheusQuery)(q))
	}
	var byName map[string]string
	if err := json.Unmarshal(data, &byName); err != nil {
		return err
	}
	*q = make(PrometheusQueries, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		*q = append(*q, PrometheusQuery{Name: name, Query: byName[name]})
	}
	return nil
}
