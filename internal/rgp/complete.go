package rgp

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
)

// completionTimeout bounds the API call behind a TAB press.
const completionTimeout = 5 * time.Second

// completePods completes pod names in the namespace, for explain.
func (o *options) completePods(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	return o.completeNames(cmd, args, prefix, &corev1.PodList{}, func(l client.ObjectList) []string {
		items := l.(*corev1.PodList).Items
		names := make([]string, 0, len(items))
		for _, p := range items {
			names = append(names, p.Name)
		}
		return names
	})
}

// completePolicies completes policy names in the namespace, for status.
func (o *options) completePolicies(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	return o.completeNames(cmd, args, prefix, &v1alpha1.ReadinessGatePolicyList{}, func(l client.ObjectList) []string {
		items := l.(*v1alpha1.ReadinessGatePolicyList).Items
		names := make([]string, 0, len(items))
		for _, p := range items {
			names = append(names, p.Name)
		}
		return names
	})
}

func (o *options) completeNames(cmd *cobra.Command, args []string, prefix string, list client.ObjectList, names func(client.ObjectList) []string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := o.connect()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	if err := c.client.List(ctx, list, client.InNamespace(c.namespace)); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, n := range names(list) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
