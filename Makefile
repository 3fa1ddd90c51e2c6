# readygate: the readiness-gate operator.

K8S_VERSION ?= 1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
KREW_VERSION ?= v0.4.3
# The next release: main's API and deployment are no longer 0.1.0's.
VERSION ?= 0.2.0
IMG ?= ghcr.io/readygate/readygate:v$(VERSION)
# The CSV the bundle upgrades (the last release's); empty for the first release.
REPLACES ?= readygate.v0.1.0
CHANNELS ?= candidate-v0
DEFAULT_CHANNEL ?= candidate-v0

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KREW_VALIDATOR ?= $(LOCALBIN)/validate-krew-manifest-$(KREW_VERSION)
HELM ?= $(LOCALBIN)/helm
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s/$(K8S_VERSION)-$(shell go env GOOS)-$(shell go env GOARCH)

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./cmd/...;./controllers/...;./internal/webhook/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver and kube-controller-manager for the tests (cached).
	K8S_VERSION=$(K8S_VERSION) ./hack/build-controlplane.sh

.PHONY: olm
olm: ## Build the OLM operator the install test runs to take the bundle's CSV to Succeeded (cached).
	./hack/build-olm.sh

.PHONY: prometheus
prometheus: ## Build the Prometheus server the prometheus source's tests run, and promtool for the alert rules' tests (cached).
	./hack/build-prometheus.sh

.PHONY: helm
helm: ## Build the helm CLI the chart's tests and make release use (cached).
	./hack/build-helm.sh

.PHONY: dashboard
dashboard: ## Generate the Grafana dashboard config/grafana/readygate-dashboard.json from hack/dashboard.
	go run ./hack/dashboard --out=config/grafana/readygate-dashboard.json

.PHONY: test
test: manifests generate vet controlplane prometheus olm kustomize helm krew-validator bundle-validate ## Run the unit and envtest suites against a real control plane.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) PROMETHEUS_BINARY=$(LOCALBIN)/prometheus PROMTOOL_BINARY=$(LOCALBIN)/promtool OLM_BINARY=$(LOCALBIN)/olm KUSTOMIZE=$(KUSTOMIZE) HELM_BINARY=$(HELM) KREW_VALIDATOR=$(KREW_VALIDATOR) \
		go test ./... -count=1 -timeout 30m

# Fuzzing time per target.
FUZZTIME ?= 60s

.PHONY: fuzz
fuzz: ## Run every fuzz target of the module (found with go test -list) for FUZZTIME each (default 60s), one after another.
	FUZZTIME=$(FUZZTIME) ./hack/fuzz.sh

# The e2e suite's fault specs (docs/reliability.md) run only here: they take
# several minutes, more than `make test` (which runs the rest of test/e2e) can spend in CI.
.PHONY: e2e
e2e: controlplane prometheus ## Run the end-to-end suite, with its fault specs, against a real control plane.
	READYGATE_FAULTS=1 KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) PROMETHEUS_BINARY=$(LOCALBIN)/prometheus go test ./test/e2e/... -count=1 -v -timeout 45m

##@ Build

.PHONY: build
build: manifests generate ## Build the manager as the image does (static, -trimpath) and the kubectl plugin (bin/manager, bin/kubectl-rgp).
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/manager ./cmd
	go build -o $(LOCALBIN)/kubectl-rgp ./cmd/kubectl-rgp

.PHONY: krew
krew: ## Build the kubectl-rgp archives into dist/ and write the krew manifest plugins/rgp.yaml for VERSION.
	VERSION=$(VERSION) ./hack/krew.sh

.PHONY: run
run: manifests generate build controlplane ## Run the manager against the current kubeconfig, or a local control plane when there is none.
	ENABLE_WEBHOOKS=false KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./hack/playground --manager=$(LOCALBIN)/manager --crds=config/crd/bases

.PHONY: docker-build
docker-build: ## Build the manager image (needs a container engine).
	docker build -t $(IMG) .

.PHONY: bundle
bundle: manifests kustomize ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/manifests.
	$(KUSTOMIZE) build config/manifests | go run ./hack/bundle generate --version=$(VERSION) --replaces=$(REPLACES) --image=$(IMG) \
		--channels=$(CHANNELS) --default-channel=$(DEFAULT_CHANNEL) --icon=config/manifests/icon.svg

.PHONY: chart
chart: manifests ## Copy into charts/readygate the files it shares with config/ (CRD, manager role, alerts, dashboard); make test fails when they drift.
	go run ./test/chart/sync

.PHONY: release
release: manifests kustomize helm ## Write dist/install.yaml (config/default, image v$(VERSION)) and dist/readygate-$(VERSION).tgz (the chart) for VERSION=x.y.z.
	VERSION=$(VERSION) IMG=$(IMG) KUSTOMIZE=$(KUSTOMIZE) HELM=$(HELM) ./hack/release.sh

.PHONY: bundle-validate
bundle-validate: ## Validate bundle/ with operator-framework/api: default, OperatorHub v2, good-practices and deprecated-API validators.
	go run ./hack/bundle validate --dir=bundle --k8s-version=$(K8S_VERSION)

.PHONY: bench
bench: build controlplane ## Run the scale harness (N=1,000, 5,000, 10,000 and 10,000 + 10,000 ungated; BENCH_FULL=1 adds 50,000; BENCH_ARGS adds flags) and write docs/performance.md.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./test/perf --manager=$(LOCALBIN)/manager --out=docs/performance.md $(BENCH_ARGS)

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $@

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

.PHONY: krew-validator
krew-validator: $(KREW_VALIDATOR) ## krew's own manifest validator, for the test of plugins/rgp.yaml.
$(KREW_VALIDATOR):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)
	mv $(LOCALBIN)/validate-krew-manifest $@
