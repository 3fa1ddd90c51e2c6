package rgp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/readygate/readygate/api/v1alpha1"
)

// maxFileBytes bounds what is read of one input file: the operator caps what
// it reads of a source (1 MiB bodies, 2 MiB scrapes), and a policy or pod
// file is far smaller.
const maxFileBytes = 8 << 20

// readFile reads an input file, "-" being standard input.
func readFile(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxFileBytes)
	}
	return data, nil
}

// object is one YAML document or List item with its kind.
type object struct {
	metav1.TypeMeta
	raw []byte
	// where names it in messages: the file and the document or item.
	where string
}

// objectsIn splits a file into its objects: every YAML document, and every
// item of a List document.
func objectsIn(path string, data []byte) ([]object, error) {
	docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []object
	for n := 1; ; n++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
			continue
		}
		where := fmt.Sprintf("%s (document %d)", path, n)
		var o object
		if err := yaml.Unmarshal(doc, &o.TypeMeta); err != nil {
			return nil, fmt.Errorf("%s: not YAML: %w", where, err)
		}
		if o.Kind == "" {
			return nil, fmt.Errorf("%s: no kind: not a Kubernetes object", where)
		}
		if o.Kind != "List" && !isListKind(o.Kind) {
			o.raw, o.where = doc, where
			out = append(out, o)
			continue
		}
		var list struct {
			Items []map[string]any `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for i, item := range list.Items {
			raw, err := yaml.Marshal(item)
			if err != nil {
				return nil, fmt.Errorf("%s: items[%d]: %w", where, i, err)
			}
			it := object{raw: raw, where: fmt.Sprintf("%s items[%d]", where, i)}
			if err := yaml.Unmarshal(raw, &it.TypeMeta); err != nil {
				return nil, fmt.Errorf("%s: %w", it.where, err)
			}
			if it.Kind == "" && isListKind(o.Kind) { // a PodList's items carry no kind
				it.Kind = o.Kind[:len(o.Kind)-len("List")]
				it.APIVersion = o.APIVersion
			}
			out = append(out, it)
		}
	}
}

func isListKind(kind string) bool {
	return kind == "PodList" || kind == "EndpointSliceList"
}

func isOnlyComments(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("---")) {
			return false
		}
	}
	return true
}

// decodeAs decodes an object of the wanted kind strictly: an unknown field
// is a typo the API server would reject too. The checks look at its JSON
// further.
func decodeAs(o object, apiVersion, kind string, into any, checks ...func([]byte) error) error {
	if o.Kind != kind || o.APIVersion != apiVersion {
		return fmt.Errorf("%s: a %s %s, not a %s %s", o.where, o.APIVersion, o.Kind, apiVersion, kind)
	}
	data, err := yaml.YAMLToJSON(o.raw)
	if err != nil {
		return fmt.Errorf("%s: %w", o.where, err)
	}
	strict, err := sigsjson.UnmarshalStrict(data, into)
	if err != nil {
		return fmt.Errorf("%s: %w", o.where, err)
	}
	for _, check := range checks {
		strict = append(strict, check(data))
	}
	if err := errors.Join(strict...); err != nil {
		return fmt.Errorf("%s: %w", o.where, err)
	}
	return nil
}

// loadPolicy reads a file that holds exactly one ReadinessGatePolicy.
func loadPolicy(path string, stdin io.Reader) (*v1alpha1.ReadinessGatePolicy, error) {
	objs, err := loadObjects(path, stdin)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: holds %d objects; give one ReadinessGatePolicy per -f file", path, len(objs))
	}
	p := &v1alpha1.ReadinessGatePolicy{}
	if err := decodeAs(objs[0], v1alpha1.GroupVersion.String(), "ReadinessGatePolicy", p, policyFieldErrors); err != nil {
		return nil, err
	}
	return p, nil
}

// loadPods reads every Pod of the files: documents and List items.
func loadPods(paths []string, stdin io.Reader) ([]*corev1.Pod, error) {
	var pods []*corev1.Pod
	for _, path := range paths {
		objs, err := loadObjects(path, stdin)
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("%s: holds no Pod", path)
		}
		for _, o := range objs {
			pod := &corev1.Pod{}
			if err := decodeAs(o, "v1", "Pod", pod); err != nil {
				return nil, err
			}
			pods = append(pods, pod)
		}
	}
	return pods, nil
}

// loadEndpointSlices reads every EndpointSlice of a file.
func loadEndpointSlices(path string, stdin io.Reader) ([]discoveryv1.EndpointSlice, error) {
	objs, err := loadObjects(path, stdin)
	if err != nil {
		return nil, err
	}
	slices := make([]discoveryv1.EndpointSlice, len(objs))
	for i, o := range objs {
		if err := decodeAs(o, discoveryv1.SchemeGroupVersion.String(), "EndpointSlice", &slices[i]); err != nil {
			return nil, err
		}
	}
	return slices, nil
}

func loadObjects(path string, stdin io.Reader) ([]object, error) {
	data, err := readFile(path, stdin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objectsIn(path, data)
}
