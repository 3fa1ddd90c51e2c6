// Command bundle generates the OLM bundle from `kustomize build
// config/manifests` on stdin (`bundle generate`), or validates a bundle
// directory (`bundle validate`). `make bundle` and `make bundle-validate` run it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/readygate/readygate/internal/bundle"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bundle generate|validate [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "generate":
		err = generate(os.Args[2:])
	case "validate":
		err = validate(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want generate or validate", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

func generate(args []string) error {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	opts := bundle.Options{}
	var icon, channels, root string
	fs.StringVar(&opts.Version, "version", "", "The operator's semantic version, e.g. 0.1.0.")
	fs.StringVar(&opts.Replaces, "replaces", "", "The CSV this version upgrades, e.g. readygate.v0.1.0.")
	fs.StringVar(&opts.Image, "image", "", "The manager image.")
	fs.StringVar(&opts.Package, "package", "readygate", "The OLM package.")
	fs.StringVar(&channels, "channels", "", "Comma-separated channels of this bundle.")
	fs.StringVar(&opts.DefaultChannel, "default-channel", "", "The package's default channel.")
	fs.StringVar(&icon, "icon", "", "The SVG icon.")
	fs.StringVar(&root, "root", ".", "The repository root the bundle's paths are relative to.")
	_ = fs.Parse(args)
	opts.Channels = strings.Split(channels, ",")
	var err error
	if opts.Icon, err = os.ReadFile(icon); err != nil {
		return fmt.Errorf("reading the icon: %w", err)
	}
	manifests, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	files, err := bundle.Generate(manifests, opts)
	if err != nil {
		return err
	}
	// Files of an earlier bundle (a renamed CRD) must not linger.
	for _, dir := range []string{"manifests", "metadata"} {
		if err := os.RemoveAll(filepath.Join(root, "bundle", dir)); err != nil {
			return err
		}
	}
	for _, f := range files {
		path := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.Content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func validate(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ExitOnError)
	var dir, k8sVersion string
	fs.StringVar(&dir, "dir", "bundle", "The bundle directory.")
	fs.StringVar(&k8sVersion, "k8s-version", "", "Report APIs removed up to this Kubernetes version.")
	_ = fs.Parse(args)
	errs, warnings, err := bundle.Validate(dir, k8sVersion)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Println("WARNING", w)
	}
	for _, e := range errs {
		fmt.Println("ERROR", e)
	}
	if len(errs)+len(warnings) > 0 {
		return fmt.Errorf("%s: %d errors, %d warnings", dir, len(errs), len(warnings))
	}
	fmt.Printf("%s: valid, no errors or warnings\n", dir)
	return nil
}
