package manifests

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/readygate/readygate/controllers"
	"github.com/readygate/readygate/test/objects"
)

// TestLeaderElectionRoleIsItsLeaseOnly: client-go's leader election gets,
// creates and updates its one Lease (and releases it with an update), so
// the Role grants no more on leases: not list, watch, patch or delete, and
// get and update only of the lease named controllers.LeaderElectionID.
// Under OLM the Role is in the operators namespace, which the operators
// installed there share: the broader grant let readygate's service account
// delete or take over any of their leader-election leases.
func TestLeaderElectionRoleIsItsLeaseOnly(t *testing.T) {
	role := objects.Named(build(t, filepath.Join("..", "..", "config", "operator")), "Role", "readygate-leader-election-role")
	if role == nil {
		t.Fatal("config/operator builds no Role readygate-leader-election-role")
	}
	for _, r := range role["rules"].([]any) {
		rule := r.(map[string]any)
		if !slices.Contains(toStrings(rule["resources"]), "leases") {
			continue
		}
		verbs := toStrings(rule["verbs"])
		var names []string
		if rule["resourceNames"] != nil {
			names = toStrings(rule["resourceNames"])
		}
		for _, v := range verbs {
			switch v {
			case "create":
				// A create cannot be limited by name.
			case "get", "update":
				if !slices.Equal(names, []string{controllers.LeaderElectionID}) {
					t.Errorf("%s on leases named %v: want only %q", v, names, controllers.LeaderElectionID)
				}
			default:
				t.Errorf("%s on leases (resourceNames %v): leader election never does it", v, names)
			}
		}
	}
}
