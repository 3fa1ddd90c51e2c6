package bundle

import (
	"fmt"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
)

// Validate runs on the bundle in dir the validators `operator-sdk bundle
// validate` runs by default, plus the OperatorHub v2, good-practices and
// deprecated-API suites, checking removed APIs up to k8sVersion. It returns
// every error and warning, each naming what it is about.
func Validate(dir, k8sVersion string) (errs, warnings []string, err error) {
	b, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the bundle in %s: %w", dir, err)
	}
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": k8sVersion})
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
	)
	for _, result := range validators.Validate(objs...) {
		for _, e := range result.Errors {
			errs = append(errs, describe(result.Name, e))
		}
		for _, w := range result.Warnings {
			warnings = append(warnings, describe(result.Name, w))
		}
	}
	return errs, warnings, nil
}

func describe(object string, e errors.Error) string {
	return fmt.Sprintf("%s: %s", object, e.Error())
}
