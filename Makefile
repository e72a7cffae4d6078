# gitopskit — build, test and benchmark.
#
#   make test      build the local control plane and tools if missing, then vet,
#                  gofmt, staticcheck and every test tier
#   make demo      the end-to-end demo (see README)
#   make bench     Go benchmarks and the side-by-side comparison commands
#   make generate  regenerate Flux's CRDs under examples/config/crd

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

BIN := bin
export GITOPSKIT_BIN := $(CURDIR)/$(BIN)
export GOTOOLCHAIN := local

STATICCHECK_VERSION    := v0.8.2
CONTROLLER_GEN_VERSION := v0.23.0
KUSTOMIZE_VERSION      := v5.8.2
SOPS_VERSION           := v3.13.3

CONTROL_PLANE := $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/kube-controller-manager \
                 $(BIN)/kube-scheduler $(BIN)/kwok
TOOLS         := $(BIN)/kustomize $(BIN)/sops $(BIN)/kubectl $(BIN)/versitygw $(BIN)/nats-server $(BIN)/flux gpg

# USE_EXISTING_CLUSTER=true runs the control-plane tests against $KUBECONFIG;
# KUBEBUILDER_ASSETS=<dir> uses etcd and kube-apiserver you already have.
ifeq ($(USE_EXISTING_CLUSTER),true)
CONTROL_PLANE_DEPS :=
else ifneq ($(KUBEBUILDER_ASSETS),)
CONTROL_PLANE_DEPS :=
else
CONTROL_PLANE_DEPS := $(CONTROL_PLANE)
endif

# Packages whose tests start the control plane run without the race detector.
CP_PKG := github.com/gitopskit/gitopskit/internal/testenv

.PHONY: gpg test vet fmt staticcheck unit controlplane tools generate bench bench-fleet demo clean

test: $(CONTROL_PLANE_DEPS) tools vet fmt staticcheck unit

controlplane: $(CONTROL_PLANE)

# One go build for the four commands: they share most packages, and the
# links run in parallel.
$(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kube-scheduler $(BIN)/kubectl &: | tools/controlplane/go.mod
	@mkdir -p $(BIN)
	@echo ">> building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes (minutes on a cold cache)"
	cd tools/controlplane && go build -trimpath -o $(CURDIR)/$(BIN)/ \
	  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl

# kwok simulates nodes and the pods' lifecycle on them; no container runs.
$(BIN)/kwok: | tools/kwok/go.mod
	@mkdir -p $(BIN)
	@echo ">> building kwok"
	cd tools/kwok && go build -trimpath -o $(CURDIR)/$@ sigs.k8s.io/kwok/cmd/kwok

$(BIN)/etcd: | tools/etcd/go.mod
	@mkdir -p $(BIN)
	@echo ">> building etcd"
	cd tools/etcd && go build -trimpath -o $(CURDIR)/$@ go.etcd.io/etcd/server/v3

# versitygw is the S3-compatible server (posix backend, SigV4 checked) the
# source/bucket tests start.
$(BIN)/versitygw: | tools/versitygw/go.mod
	@mkdir -p $(BIN)
	@echo ">> building versitygw"
	cd tools/versitygw && go build -trimpath -o $(CURDIR)/$@ github.com/versity/versitygw/cmd/versitygw

# fake-gcs-server is the Google Cloud Storage emulator (JSON API, memory
# backend) the source/bucket/gcs tests start.
$(BIN)/fake-gcs-server: | tools/fakegcs/go.mod
	@mkdir -p $(BIN)
	@echo ">> building fake-gcs-server"
	cd tools/fakegcs && go build -trimpath -o $(CURDIR)/$@ github.com/fsouza/fake-gcs-server
TOOLS += $(BIN)/fake-gcs-server

# nats-server is the NATS server the notify/provider/natsprovider tests start.
$(BIN)/nats-server: | tools/nats/go.mod
	@mkdir -p $(BIN)
	@echo ">> building nats-server"
	cd tools/nats && go build -trimpath -o $(CURDIR)/$@ github.com/nats-io/nats-server/v2

# azurite is the Azure Storage emulator the source/bucket/azureblob tests
# start. npm installs the version pinned in tools/azurite/package-lock.json
# under bin/azurite.d (outside the source tree), and bin/azurite is a small
# wrapper that runs its blob service on node.
$(BIN)/azurite: tools/azurite/package.json tools/azurite/package-lock.json
	@mkdir -p $(BIN)/azurite.d
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed to install azurite"; exit 1; }
	@echo ">> installing azurite with npm ci"
	cp tools/azurite/package.json tools/azurite/package-lock.json $(BIN)/azurite.d/
	cd $(BIN)/azurite.d && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	printf '%s\n' '#!/bin/sh' \
	  'exec node "$$(dirname "$$0")/azurite.d/node_modules/azurite/dist/src/blob/main.js" "$$@"' > $@
	chmod +x $@
TOOLS += $(BIN)/azurite

# flux is the reference CLI the source/oci tests push and pull artifacts with.
# Its main package embeds the install manifests that its own release process
# generates (cmd/flux/manifests/*.yaml, absent from the module), so it is built
# from a copy of the module pinned in tools/flux with a placeholder manifest:
# every command works except those that install Flux into a cluster.
$(BIN)/flux: | tools/flux/go.mod
	@mkdir -p $(BIN)
	@echo ">> building flux"
	src=$$(cd tools/flux && go mod download github.com/fluxcd/flux2/v2 && go list -m -f '{{.Dir}}' github.com/fluxcd/flux2/v2); \
	ver=$$(cd tools/flux && go list -m -f '{{.Version}}' github.com/fluxcd/flux2/v2); \
	tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	cp -R "$$src/." "$$tmp" && chmod -R u+w "$$tmp"; \
	mkdir -p "$$tmp/cmd/flux/manifests"; \
	printf '# no install manifests in this build\n' > "$$tmp/cmd/flux/manifests/none.yaml"; \
	cd "$$tmp" && go build -trimpath -ldflags "-X main.VERSION=$${ver#v}" -o $(CURDIR)/$@ ./cmd/flux

# crane is the registry CLI the OCI pull benchmark compares with.
$(BIN)/crane: | tools/crane/go.mod
	@mkdir -p $(BIN)
	@echo ">> building crane"
	cd tools/crane && go build -trimpath -o $(CURDIR)/$@ github.com/google/go-containerregistry/cmd/crane

# helm is the reference CLI the source/helm tests package, pull and build
# chart dependencies with, to compare the SDK's charts with its own.
$(BIN)/helm: | tools/helm/go.mod
	@mkdir -p $(BIN)
	@echo ">> building helm"
	cd tools/helm && go build -trimpath -o $(CURDIR)/$@ helm.sh/helm/v4/cmd/helm
TOOLS += $(BIN)/helm

$(BIN)/kustomize:
	@mkdir -p $(BIN)
	@echo ">> building kustomize $(KUSTOMIZE_VERSION)"
	GOBIN=$(CURDIR)/$(BIN) GOFLAGS= go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(BIN)/sops:
	@mkdir -p $(BIN)
	@echo ">> building sops $(SOPS_VERSION)"
	GOBIN=$(CURDIR)/$(BIN) GOFLAGS= go install github.com/getsops/sops/v3/cmd/sops@$(SOPS_VERSION)

# The SOPS tests hand PGP keys to the sops CLI through a temporary GnuPG home.
gpg:
	@command -v gpg >/dev/null || { echo ">> installing gnupg"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq gnupg; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq gnupg; fi; }

vet:
	go vet ./...

fmt:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*' -not -path './tmp/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

staticcheck:
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

unit:
	@all=$$(go list ./...); \
	cp=$$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}} {{join .Imports " "}}' ./... | awk -v p="$(CP_PKG)" '{for(i=2;i<=NF;i++) if($$i==p){print $$1; break}}'); \
	race=$$(comm -23 <(echo "$$all" | sort) <(echo "$$cp" | sort)); \
	echo ">> go test -race (packages without the control plane)"; \
	go test -race -count=1 -timeout 15m $$race; \
	if [ -n "$$cp" ]; then echo ">> go test (packages on the local control plane)"; go test -count=1 -timeout 15m $$cp; fi

generate:
	go run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) crd \
	  paths=github.com/fluxcd/source-controller/api/v1 \
	  paths=github.com/fluxcd/source-controller/api/v1beta2 \
	  paths=github.com/fluxcd/kustomize-controller/api/v1 \
	  paths=github.com/fluxcd/helm-controller/api/v2 \
	  paths=github.com/fluxcd/notification-controller/api/v1 \
	  paths=github.com/fluxcd/notification-controller/api/v1beta3 \
	  paths=github.com/fluxcd/image-reflector-controller/api/v1 \
	  paths=github.com/fluxcd/image-automation-controller/api/v1 \
	  output:crd:dir=examples/config/crd

# The fleet table: N = BENCH_N of each kind, each N on a fresh control
# plane. `make bench-fleet BENCH_N=100` is the quick smoke check.
BENCH_N    ?= 100,500,1000
BENCH_ROWS := $(CURDIR)/tmp/bench-fleet.jsonl
# The controllers never load Go plugins: without kustomize's Go plugin
# loader the linker drops unused methods (232 MB -> 167 MB executable, fewer
# pages resident). The scale commands build their controller commands with
# this tag themselves (their -tags flag).
GO_TAGS    := -tags kustomize_disable_go_plugin_support

bench: $(CONTROL_PLANE_DEPS) tools $(BIN)/crane
	go test -run '^$$' -bench . -benchmem -count=1 ./...
	@for d in internal/benchcmd/*/; do \
	  [ -f "$$d/main.go" ] || continue; \
	  echo ">> go run ./$$d"; go run ./$$d; \
	done
	$(MAKE) --no-print-directory bench-fleet

bench-fleet: $(CONTROL_PLANE_DEPS) tools
	@mkdir -p $(dir $(BENCH_ROWS)); rm -f $(BENCH_ROWS)
	go run $(GO_TAGS) ./examples/benchcmd/scale -n $(BENCH_N) -rows $(BENCH_ROWS)
	go run $(GO_TAGS) ./examples/benchcmd/helmscale -n $(BENCH_N) -rows $(BENCH_ROWS)
	go run $(GO_TAGS) ./examples/benchcmd/sourcescale -kinds OCIRepository,HelmChart -n $(BENCH_N) -rows $(BENCH_ROWS)
	go run $(GO_TAGS) ./examples/benchcmd/table $(BENCH_ROWS)

demo: $(CONTROL_PLANE_DEPS)
	go run ./examples/demo $(DEMO_FLAGS)

clean:
	rm -rf $(BIN)

# Last, after every TOOLS += above: make expands a rule's prerequisites
# when it reads the rule.
tools: $(TOOLS)
