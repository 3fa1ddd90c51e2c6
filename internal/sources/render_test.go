package sources

import (
	"strings"
	"testing"

	"github.com/readygate/readygate/api/v1alpha1"
)

func TestRenderQueries(t *testing.T) {
	// The 107-byte query that text/template would run 10^32 times.
	bomb := strings.Repeat("{{range 100000000}}", 4) + "xyz" + strings.Repeat("{{end}}", 4)
	cases := []struct {
		name, query, want, wantErr string
	}{
		{name: "compact placeholder", query: `up{namespace="{{.Namespace}}"}`, want: `up{namespace="shop"}`},
		{name: "spaced placeholder", query: `up{namespace="{{ .Namespace }}"}`, want: `up{namespace="shop"}`},
		{name: "twice, any spacing", query: `a{ns="{{  .Namespace}}"} / b{ns="{{.Namespace   }}"}`, want: `a{ns="shop"} / b{ns="shop"}`},
		{name: "no placeholder", query: `sum by (pod) (up)`, want: `sum by (pod) (up)`},
		{name: "the template bomb", query: bomb, wantErr: "spec.sources.prometheus.queries[1].query: \"{{range 100000000}}{{ran...\" at byte 0: only {{ .Namespace }} may be substituted"},
		{name: "another field", query: `up{ns="{{ .Name }}"}`, wantErr: "spec.sources.prometheus.queries[1].query"},
		{name: "a pipeline", query: `up{ns="{{ .Namespace | printf "%s" }}"}`, wantErr: "no other template syntax"},
		{name: "a lone opening", query: `up{ns="{{"}`, wantErr: "at byte 7"},
		{name: "an opening built by the substitution is still refused", query: `{{{{ .Namespace }}`, wantErr: "only {{ .Namespace }}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "the template bomb" && len(tc.query) != 107 {
				t.Fatalf("the bomb is %d bytes", len(tc.query))
			}
			qs := []v1alpha1.PrometheusQuery{{Name: "fine", Query: "up"}, {Name: "q", Query: tc.query}}
			out, err := RenderQueries(qs, "shop")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || out["q"] != tc.want || out["fine"] != "up" {
				t.Fatalf("got %v, %v; want %q", out, err, tc.want)
			}
		})
	}
}
