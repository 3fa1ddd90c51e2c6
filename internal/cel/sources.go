package cel

import (
	"fmt"
	"math"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celcommon "github.com/google/cel-go/common"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/lazy"
)

// Names of the source variables.
const (
	VarEndpoints  = "endpoints"
	VarHTTP       = "http"
	VarMetrics    = "metrics"
	VarPrometheus = "prometheus"
)

func field(name string, t *apiservercel.DeclType) *apiservercel.DeclField {
	return apiservercel.NewDeclField(name, t, true, nil, nil)
}

func fields(fs ...*apiservercel.DeclField) map[string]*apiservercel.DeclField {
	m := make(map[string]*apiservercel.DeclField, len(fs))
	for _, f := range fs {
		m[f.Name] = f
	}
	return m
}

// Source declarations, one per source a policy can enable.
var (
	endpointPortType = apiservercel.NewObjectType("readygate.EndpointPort", fields(
		field("name", apiservercel.StringType),
		field("port", apiservercel.IntType),
		field("protocol", apiservercel.StringType),
	))
	endpointType = apiservercel.NewObjectType("readygate.Endpoint", fields(
		field("serviceName", apiservercel.StringType),
		field("sliceName", apiservercel.StringType),
		field("addresses", apiservercel.NewListType(apiservercel.StringType, -1)),
		field("ready", apiservercel.BoolType),
		field("serving", apiservercel.BoolType),
		field("terminating", apiservercel.BoolType),
		field("ports", apiservercel.NewListType(endpointPortType, -1)),
	))
	httpType = apiservercel.NewObjectType("readygate.HTTPResponse", fields(
		field("statusCode", apiservercel.IntType),
		field("body", apiservercel.StringType),
		field("json", apiservercel.DynType),
		field("latencyMillis", apiservercel.IntType),
		field("error", apiservercel.StringType),
	))
	metricsType = cel.OpaqueType("readygate.Metrics")
	// prometheusTypeName names the per-policy prometheus object type at run time.
	prometheusTypeName = apiservercel.NewObjectType("readygate.Prometheus", nil)
	sampleType         = cel.MapType(cel.StringType, cel.DynType)
)

// EndpointsSource declares `endpoints`: a list of the EndpointSlice entries
// that carry the pod.
func EndpointsSource() Source {
	return Source{Name: VarEndpoints, Type: apiservercel.NewListType(endpointType, -1), DeclTypes: []*apiservercel.DeclType{endpointType, endpointPortType}}
}

// HTTPSource declares `http`: the last response to a GET against the pod.
func HTTPSource() Source {
	return Source{Name: VarHTTP, Type: httpType}
}

// MaxMetricSamples is the most series a scrape holds; the scrape refuses a
// page with more.
const MaxMetricSamples = 50000

// Overloads of the metrics functions.
const (
	overloadValue       = "readygate_metrics_value"
	overloadValueLabels = "readygate_metrics_value_labels"
	overloadSamples     = "readygate_metrics_samples"
)

// MetricsSource declares `metrics` with value() and samples(). Each call
// costs what it does: value() scans the metric's series, at the traversal
// factor Kubernetes CEL charges per string byte, and samples() builds one
// map per series. Without that a call would cost 1, and a loop of them
// over a tenant's scrape of 50,000 series would run for minutes within
// the cost limit.
func MetricsSource() Source {
	return Source{Name: VarMetrics, CelType: metricsType,
		Options: []cel.EnvOption{
			cel.Function("value",
				cel.MemberOverload(overloadValue, []*cel.Type{metricsType, cel.StringType}, cel.DoubleType,
					cel.BinaryBinding(func(m, name ref.Val) ref.Val { return m.(*Metrics).value(name, nil) })),
				cel.MemberOverload(overloadValueLabels, []*cel.Type{metricsType, cel.StringType, cel.MapType(cel.StringType, cel.StringType)}, cel.DoubleType,
					cel.FunctionBinding(func(args ...ref.Val) ref.Val { return args[0].(*Metrics).value(args[1], args[2]) })),
			),
			cel.Function("samples",
				cel.MemberOverload(overloadSamples, []*cel.Type{metricsType, cel.StringType}, cel.ListType(sampleType),
					cel.BinaryBinding(func(m, name ref.Val) ref.Val { return m.(*Metrics).samples(name) })),
			),
			cel.CostEstimatorOptions(
				checker.OverloadCostEstimate(overloadValue, estimateValue),
				checker.OverloadCostEstimate(overloadValueLabels, estimateValue),
				checker.OverloadCostEstimate(overloadSamples, estimateSamples),
			),
		},
		ProgramOptions: []cel.ProgramOption{cel.CostTrackerOptions(
			interpreter.OverloadCostTracker(overloadValue, valueCost),
			interpreter.OverloadCostTracker(overloadValueLabels, valueCost),
			interpreter.OverloadCostTracker(overloadSamples, samplesCost),
		)},
	}
}

// scanCost is what value() pays per series it scans.
func scanCost(series int) uint64 {
	return 1 + uint64(math.Ceil(float64(series)*celcommon.StringTraversalCostFactor))
}

func estimateValue(checker.CostEstimator, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return &checker.CallEstimate{CostEstimate: checker.CostEstimate{Min: 1, Max: scanCost(MaxMetricSamples)}}
}

func estimateSamples(checker.CostEstimator, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return &checker.CallEstimate{
		CostEstimate: checker.CostEstimate{Min: 1, Max: 1 + MaxMetricSamples},
		ResultSize:   &checker.SizeEstimate{Min: 0, Max: MaxMetricSamples},
	}
}

// seriesOf is how many series of the named metric a call's arguments reach.
func seriesOf(args []ref.Val) int {
	m, ok := args[0].(*Metrics)
	if !ok || len(args) < 2 {
		return 0
	}
	name, _ := args[1].(types.String)
	return len(m.Families[string(name)])
}

func valueCost(args []ref.Val, _ ref.Val) *uint64 {
	c := scanCost(seriesOf(args))
	return &c
}

func samplesCost(args []ref.Val, _ ref.Val) *uint64 {
	c := 1 + uint64(seriesOf(args))
	return &c
}

// PrometheusSource declares `prometheus` with one double field per query.
func PrometheusSource(queries []string) Source {
	fs := make([]*apiservercel.DeclField, len(queries))
	for i, q := range queries {
		fs[i] = field(q, apiservercel.DoubleType)
	}
	t := apiservercel.NewObjectType("readygate.Prometheus", fields(fs...))
	return Source{Name: VarPrometheus, Type: t}
}

// HTTPResult is what the http source saw.
type HTTPResult struct {
	StatusCode    int
	Body          string
	JSON          any // the parsed body when it is JSON; nil otherwise
	LatencyMillis int64
	Error         string
}

// HTTPValue exposes an HTTP result to CEL.
func HTTPValue(r HTTPResult) ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(map[string]any{
		"statusCode": r.StatusCode, "body": r.Body, "json": r.JSON, "latencyMillis": r.LatencyMillis, "error": r.Error,
	})
}

// Endpoint is one EndpointSlice entry that carries the pod.
type Endpoint struct {
	ServiceName, SliceName      string
	Addresses                   []string
	Ready, Serving, Terminating bool
	Ports                       []EndpointPort
}

// EndpointPort is one port of an EndpointSlice.
type EndpointPort struct {
	Name     string
	Port     int32
	Protocol string
}

// EndpointsValue exposes the pod's endpoints to CEL.
func EndpointsValue(eps []Endpoint) ref.Val {
	out := make([]any, len(eps))
	for i, e := range eps {
		ports := make([]any, len(e.Ports))
		for j, p := range e.Ports {
			ports[j] = map[string]any{"name": p.Name, "port": int64(p.Port), "protocol": p.Protocol}
		}
		addrs := e.Addresses
		if addrs == nil {
			addrs = []string{}
		}
		out[i] = map[string]any{
			"serviceName": e.ServiceName, "sliceName": e.SliceName, "addresses": addrs,
			"ready": e.Ready, "serving": e.Serving, "terminating": e.Terminating, "ports": ports,
		}
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

// Sample is one scraped series.
type Sample struct {
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// Metrics is a pod's scrape, by metric name, as CEL sees it.
type Metrics struct {
	// Families maps a series name (e.g. http_requests_total) to its samples.
	Families map[string][]Sample
	// Origin names the scrape in error messages, e.g. "http://127.0.0.1:9090/metrics".
	Origin string
}

var _ ref.Val = (*Metrics)(nil)

func (m *Metrics) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("metrics cannot be converted to %v", typeDesc)
}
func (m *Metrics) ConvertToType(t ref.Type) ref.Val {
	return types.NewErr("metrics cannot be converted to %s", t.TypeName())
}
func (m *Metrics) Equal(other ref.Val) ref.Val { return types.Bool(m == other) }
func (m *Metrics) Type() ref.Type              { return metricsType }
func (m *Metrics) Value() any                  { return m }

// value returns the one sample of the named metric that matches the labels.
func (m *Metrics) value(name ref.Val, want ref.Val) ref.Val {
	n, ok := name.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(name)
	}
	labels := map[string]string{}
	if want != nil {
		native, err := want.ConvertToNative(mapStringString)
		if err != nil {
			return types.WrapErr(err)
		}
		labels = native.(map[string]string)
	}
	var found []Sample
	for _, s := range m.Families[string(n)] {
		if matches(s.Labels, labels) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return types.Double(found[0].Value)
	case 0:
		if len(m.Families[string(n)]) == 0 {
			return types.NewErr("metric %q is not in the scrape of %s", string(n), m.Origin)
		}
		return types.NewErr("no series of metric %q in the scrape of %s matches %v", string(n), m.Origin, labels)
	default:
		return types.NewErr("metric %q has %d series matching %v in the scrape of %s: name labels to pick one", string(n), len(found), labels, m.Origin)
	}
}

// samples returns every series of the named metric, each as {labels, value}.
func (m *Metrics) samples(name ref.Val) ref.Val {
	n, ok := name.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(name)
	}
	series := m.Families[string(n)]
	out := make([]any, len(series))
	for i, s := range series {
		out[i] = map[string]any{"labels": s.Labels, "value": s.Value}
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// PrometheusValue exposes a pod's PromQL results. missing explains a query
// that returned no sample for the pod.
func PrometheusValue(queries []string, results map[string]float64, missing func(query string) string) ref.Val {
	m := lazy.NewMapValue(prometheusTypeName)
	for _, q := range queries {
		m.Append(q, func(*lazy.MapValue) ref.Val {
			if v, ok := results[q]; ok {
				return types.Double(v)
			}
			return types.NewErr("%s", missing(q))
		})
	}
	return m
}

var mapStringString = reflect.TypeOf(map[string]string{})
