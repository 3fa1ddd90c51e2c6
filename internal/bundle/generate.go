// Package bundle turns `kustomize build config/manifests` into an OLM
// registry+v1 bundle, and validates bundles with operator-framework/api.
// operator-sdk would do the same but cannot be built from the module proxy.
package bundle

import (
	"fmt"
	"path"
	"strings"

	"github.com/blang/semver/v4"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
)

// Options are what the manifests do not say about a release.
type Options struct {
	Version        string // the operator's semantic version, without a leading v
	Replaces       string // the CSV this one upgrades, if any
	Image          string // the manager image the deployment runs
	Icon           []byte // an SVG
	Package        string
	Channels       []string
	DefaultChannel string
}

// File is one file of the bundle, its path relative to the repository root.
type File struct {
	Path    string
	Content []byte
}

// Generate builds the bundle's files from the multi-document YAML of
// `kustomize build config/manifests`. The same input gives the same bytes.
func Generate(manifests []byte, opts Options) ([]File, error) {
	version, err := semver.Parse(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("version %q is not a semantic version (MAJOR.MINOR.PATCH): %w", opts.Version, err)
	}
	if opts.Image == "" || opts.Package == "" || len(opts.Channels) == 0 || opts.DefaultChannel == "" || len(opts.Icon) == 0 {
		return nil, fmt.Errorf("image, package, channels, default channel and icon are all required")
	}
	objs, err := sortObjects(manifests)
	if err != nil {
		return nil, err
	}
	csv, err := buildCSV(objs, opts, version)
	if err != nil {
		return nil, err
	}
	files := []File{}
	csvYAML, err := manifestYAML(csv)
	if err != nil {
		return nil, err
	}
	files = append(files, File{path.Join("bundle", "manifests", opts.Package+".clusterserviceversion.yaml"), csvYAML})
	for _, crd := range objs.crds {
		crdYAML, err := manifestYAML(crd)
		if err != nil {
			return nil, err
		}
		files = append(files, File{path.Join("bundle", "manifests", crd.Spec.Group+"_"+crd.Spec.Names.Plural+".yaml"), crdYAML})
	}
	for _, obj := range objs.plainManifests() {
		obj = obj.DeepCopy()
		obj.SetNamespace("") // OLM creates namespaced objects in the operator's namespace
		objYAML, err := manifestYAML(obj.Object)
		if err != nil {
			return nil, err
		}
		gv := strings.ReplaceAll(obj.GetAPIVersion(), "/", "_") // operator-sdk's file names: rbac.authorization.k8s.io_v1, v1
		name := fmt.Sprintf("%s_%s_%s.yaml", obj.GetName(), gv, strings.ToLower(obj.GetKind()))
		files = append(files, File{path.Join("bundle", "manifests", name), objYAML})
	}
	annotations := bundleAnnotations(opts)
	files = append(files,
		File{path.Join("bundle", "metadata", "annotations.yaml"), annotationsYAML(annotations)},
		File{"bundle.Dockerfile", dockerfile(annotations)},
	)
	return files, nil
}

func buildCSV(objs *objects, opts Options, version semver.Version) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	if objs.csv == nil {
		return nil, fmt.Errorf("no ClusterServiceVersion base in the manifests (config/manifests/bases)")
	}
	csv := objs.csv.DeepCopy()
	csv.Name = opts.Package + ".v" + version.String()
	csv.Namespace = ""
	csv.Spec.Version.Version = version
	csv.Spec.Replaces = opts.Replaces
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{Data: encodeIcon(opts.Icon), MediaType: "image/svg+xml"}}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["containerImage"] = opts.Image
	var err error
	if csv.Annotations["alm-examples"], err = almExamples(objs.examples); err != nil {
		return nil, err
	}
	if csv.Spec.InstallStrategy, err = installStrategy(objs, opts.Image); err != nil {
		return nil, err
	}
	deployment := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0]
	if csv.Spec.WebhookDefinitions, err = webhookDefinitions(objs, deployment); err != nil {
		return nil, err
	}
	if csv.Spec.CustomResourceDefinitions.Owned, err = ownedCRDs(objs.crds, objs.csv.Spec.CustomResourceDefinitions.Owned); err != nil {
		return nil, err
	}
	return csv, nil
}
