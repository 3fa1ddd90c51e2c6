package rgp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/readygate/readygate/api/v1alpha1"
	"github.com/readygate/readygate/internal/cel"
	"github.com/readygate/readygate/internal/podschema"
	"github.com/readygate/readygate/internal/policy"
)

// scheme holds the kinds the plugin reads.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(discoveryv1.AddToScheme(s))
	utilruntime.Must(authorizationv1.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}()

// cluster is a connection to the API server with the user's own
// credentials: the plugin never needs more than they have.
type cluster struct {
	client    client.Client
	config    *rest.Config
	http      *http.Client
	namespace string
	env       *cel.Env
}

// connect builds the client from the kubeconfig flags.
func (o *options) connect() (*cluster, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, failed("no cluster to talk to: %v", err)
	}
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, failed("reading the namespace from the kubeconfig: %v", err)
	}
	hc, err := httpClientFor(cfg)
	if err != nil {
		return nil, failed("the kubeconfig's credentials: %v", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: hc})
	if err != nil {
		return nil, failed("connecting to %s: %v", cfg.Host, err)
	}
	env, err := podschema.CELEnv()
	if err != nil {
		return nil, failed("%v", err)
	}
	return &cluster{client: c, config: cfg, http: hc, namespace: ns, env: env}, nil
}

// httpClientFor is the client of every request to the cluster. A pod's
// redirect comes back through pods/proxy as it is; followed, it would take
// your credentials (client-go sets them on every request, whatever its
// host) wherever the pod says. An answer is the pod's, as the operator
// takes it, and the API server never redirects otherwise.
func httpClientFor(cfg *rest.Config) (*http.Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc, nil
}

// compile compiles a stored policy as the operator does.
func (c *cluster) compile(p *v1alpha1.ReadinessGatePolicy) *policy.Compiled {
	return policy.Compile(c.env, p, true, nil)
}

// apiError turns an API error into one line that says what to do: no
// cluster, no permission, or what the API server said.
func (c *cluster) apiError(what string, err error) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case apierrors.IsForbidden(err):
		return failed("%s: forbidden: %s", what, statusMessage(err))
	case apierrors.IsUnauthorized(err):
		return failed("%s: the API server at %s does not accept your credentials", what, c.config.Host)
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &urlErr), errors.Is(err, context.DeadlineExceeded):
		return failed("cannot reach the cluster at %s: %v", c.config.Host, rootCause(err))
	case meta.IsNoMatchError(err):
		return failed("%s: the cluster has no ReadinessGatePolicy API: is readygate installed?", what)
	}
	return failed("%s: %v", what, err)
}

func statusMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// allowed asks the API server whether the user may do verb on a resource
// in the namespace: the plugin shows a source it may not read as such,
// beside what the operator last wrote, rather than failing.
func (c *cluster) allowed(ctx context.Context, attrs authorizationv1.ResourceAttributes) bool {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}
	if err := c.client.Create(ctx, review); err != nil {
		return true // cannot ask: try, and let the request say no
	}
	return review.Status.Allowed
}

// permission names a permission as RBAC writes it, for messages.
func permission(attrs authorizationv1.ResourceAttributes) string {
	res := attrs.Resource
	if attrs.Group != "" {
		res += "." + attrs.Group
	}
	if attrs.Subresource != "" {
		res += "/" + attrs.Subresource
	}
	return fmt.Sprintf("%s %s in namespace %s", attrs.Verb, res, attrs.Namespace)
}
