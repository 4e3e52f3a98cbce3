#!/usr/bin/env bash
# Build (or reuse) the test binaries kube-apiserver, kubectl, etcd and helm.
#
# Prints exactly one line on stdout: the folder holding the four binaries.
# Everything else (progress, warnings) goes to stderr.
#
#   dir=$(hack/k8s-bins.sh) && export KUBEBUILDER_ASSETS="$dir"
#
# Order of preference:
#   1. $KUBEBUILDER_ASSETS, if it already holds kube-apiserver, etcd and kubectl
#      (helm may also come from $PATH or from this script's cache).
#   2. The version-keyed cache folder, if it already holds all four binaries.
#   3. Build the missing binaries from source with the Go toolchain (module
#      proxy only; no release tarballs needed) into the cache folder.
#
# Environment:
#   LADDER_K8S_CACHE     cache root            (default: $HOME/.cache/ladder-k8s)
#   LADDER_K8S_VERSION   k8s.io/kubernetes     (default: v1.36.3)
#   LADDER_ETCD_VERSION  go.etcd.io/etcd/server/v3 (default: v3.6.17)
#   LADDER_HELM_VERSION  helm.sh/helm/v4       (default: v4.3.2)
#   KUBEBUILDER_ASSETS   pre-provisioned binaries to use instead of building
#   GOMAXPROCS           parallelism of the Go build (Go's default: all cores)
#
# The throwaway Go modules used for building live under <cache root>/build and
# are removed afterwards; nothing is written inside the repository.
set -euo pipefail

K8S_VERSION="${LADDER_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${LADDER_ETCD_VERSION:-v3.6.17}"
HELM_VERSION="${LADDER_HELM_VERSION:-v4.3.2}"
CACHE_ROOT="${LADDER_K8S_CACHE:-${HOME}/.cache/ladder-k8s}"

# Normalise to a leading "v".
K8S_VERSION="v${K8S_VERSION#v}"
ETCD_VERSION="v${ETCD_VERSION#v}"
HELM_VERSION="v${HELM_VERSION#v}"

OUT_DIR="${CACHE_ROOT}/${K8S_VERSION}-etcd${ETCD_VERSION#v}-helm${HELM_VERSION#v}"
K8S_BINS=(kube-apiserver kubectl etcd)

log() { printf '[k8s-bins] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

has_bins() { # dir bin...
  local dir="$1"; shift
  local b
  for b in "$@"; do [[ -x "${dir}/${b}" ]] || return 1; done
}

# --- 1. KUBEBUILDER_ASSETS ---------------------------------------------------
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_bins "${KUBEBUILDER_ASSETS}" "${K8S_BINS[@]}"; then
    helm_path=""
    if [[ -x "${KUBEBUILDER_ASSETS}/helm" ]]; then
      helm_path="${KUBEBUILDER_ASSETS}/helm"
    elif helm_path="$(command -v helm 2>/dev/null)"; then
      :
    elif [[ -x "${OUT_DIR}/helm" ]]; then
      helm_path="${OUT_DIR}/helm"
      log "note: helm is not in \$KUBEBUILDER_ASSETS nor on PATH; use ${helm_path}"
    fi
    if [[ -n "${helm_path}" ]]; then
      log "using \$KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} (helm: ${helm_path})"
      printf '%s\n' "${KUBEBUILDER_ASSETS}"
      exit 0
    fi
    log "\$KUBEBUILDER_ASSETS has no helm and none found on PATH/cache; using the cache instead"
  else
    log "\$KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} lacks one of ${K8S_BINS[*]}; using the cache instead"
  fi
fi

# --- 2. warm cache (fast path, no lock, no go) -------------------------------
if has_bins "${OUT_DIR}" "${K8S_BINS[@]}" helm; then
  log "cache hit: ${OUT_DIR}"
  printf '%s\n' "${OUT_DIR}"
  exit 0
fi

# --- 3. build ----------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
  [[ -x /usr/local/go/bin/go ]] && PATH="/usr/local/go/bin:${PATH}" || die "go not found"
fi

mkdir -p "${CACHE_ROOT}/build" "${OUT_DIR}"

# Serialise concurrent builds of the same cache root.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${CACHE_ROOT}/.lock"
  if ! flock -n 9; then
    log "another build holds ${CACHE_ROOT}/.lock; waiting"
    flock 9
  fi
  if has_bins "${OUT_DIR}" "${K8S_BINS[@]}" helm; then
    log "cache hit (built by a concurrent run): ${OUT_DIR}"
    printf '%s\n' "${OUT_DIR}"
    exit 0
  fi
fi

export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
export GO111MODULE=on
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

WORK="$(mktemp -d "${CACHE_ROOT}/build/tmp.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
cd "${WORK}"

log "building into ${OUT_DIR} with $(go version | cut -d' ' -f3) (GOMAXPROCS=${GOMAXPROCS:-default})"

# new_module <dir> <module path>: a fresh throwaway module outside the repo.
new_module() {
  mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# install_bin <built file> <name>: atomically move into the cache folder.
install_bin() {
  mv -f "$1" "${OUT_DIR}/.$2.tmp"
  mv -f "${OUT_DIR}/.$2.tmp" "${OUT_DIR}/$2"
}

build_kubernetes() {
  local v="${K8S_VERSION}"
  local staging_v="v0.${v#v1.}"            # v1.36.3 -> v0.36.3
  local minor="${v#v1.}"; minor="${minor%%.*}"
  local mod="${WORK}/kubernetes"

  log "kubernetes ${v}: resolving staging modules at ${staging_v}"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@${v}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "${gomod}" ]] || die "could not download k8s.io/kubernetes@${v}"

  # Staging modules = the "k8s.io/x => ./staging/src/k8s.io/x" replace lines.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "${gomod}")"
  [[ -n "${staging}" ]] || die "no staging replace directives found in ${gomod}"

  new_module "${mod}" ladder.local/k8s-bins/kubernetes
  {
    printf '\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "${v}"
    local m
    for m in ${staging}; do
      if go list -m -json "${m}@${staging_v}" >/dev/null 2>&1; then
        printf '\t%s => %s %s\n' "${m}" "${m}" "${staging_v}"
      else
        # Not published at this version: replace with an empty stub. Fine as
        # long as neither kube-apiserver nor kubectl imports it.
        log "warning: ${m}@${staging_v} not on the proxy; using an empty stub"
        mkdir -p "${WORK}/stubs/${m}"
        printf 'module %s\n\ngo 1.24\n' "${m}" >"${WORK}/stubs/${m}/go.mod"
        printf '\t%s => %s\n' "${m}" "${WORK}/stubs/${m}"
      fi
    done
    printf ')\n'
  } >>"${mod}/go.mod"

  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ldflags="-s -w" pkg kv
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for kv in "gitVersion=${v}" "gitMajor=1" "gitMinor=${minor}" \
              "gitTreeState=clean" "gitCommit=" "buildDate=${date}"; do
      ldflags+=" -X ${pkg}.${kv}"
    done
  done

  log "kubernetes ${v}: go get (downloads modules)"
  (cd "${mod}" &&
    go get "k8s.io/kubernetes/cmd/kube-apiserver@${v}" "k8s.io/kubernetes/cmd/kubectl@${v}") >&2
  log "kubernetes ${v}: go build kube-apiserver kubectl (this takes a while)"
  (cd "${mod}" &&
    go build -trimpath -ldflags "${ldflags}" -o "${mod}/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) >&2
  "${mod}/bin/kube-apiserver" --version >&2
  "${mod}/bin/kubectl" version --client >&2
  install_bin "${mod}/bin/kube-apiserver" kube-apiserver
  install_bin "${mod}/bin/kubectl" kubectl
}

build_etcd() {
  local v="${ETCD_VERSION}" mod="${WORK}/etcd"
  # go.etcd.io/etcd/v3 (the repo root holding etcd's main) uses local replace
  # directives, so wrap etcdmain in a tiny main package instead.
  new_module "${mod}" ladder.local/k8s-bins/etcd
  printf '\nrequire go.etcd.io/etcd/server/v3 %s\n' "${v}" >>"${mod}/go.mod"
  cat >"${mod}/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  log "etcd ${v}: go build"
  (cd "${mod}" && go get "go.etcd.io/etcd/server/v3/etcdmain@${v}" && go build -trimpath -ldflags "-s -w" -o "${mod}/bin/etcd" .) >&2
  "${mod}/bin/etcd" --version >&2
  install_bin "${mod}/bin/etcd" etcd
}

build_helm() {
  local v="${HELM_VERSION}" mod="${WORK}/helm"
  local pkg="helm.sh/helm/v4/internal/version"
  new_module "${mod}" ladder.local/k8s-bins/helm
  printf '\nrequire helm.sh/helm/v4 %s\n' "${v}" >>"${mod}/go.mod"
  log "helm ${v}: go build"
  (cd "${mod}" && go get "helm.sh/helm/v4/cmd/helm@${v}" &&
    go build -trimpath \
      -ldflags "-s -w -X ${pkg}.version=${v} -X ${pkg}.metadata= -X ${pkg}.gitTreeState=clean" \
      -o "${mod}/bin/helm" helm.sh/helm/v4/cmd/helm) >&2
  "${mod}/bin/helm" version >&2
  install_bin "${mod}/bin/helm" helm
}

SECONDS=0
has_bins "${OUT_DIR}" kube-apiserver kubectl || build_kubernetes
has_bins "${OUT_DIR}" etcd || build_etcd
has_bins "${OUT_DIR}" helm || build_helm
has_bins "${OUT_DIR}" "${K8S_BINS[@]}" helm || die "build incomplete in ${OUT_DIR}"
log "done in ${SECONDS}s: ${OUT_DIR}"
printf '%s\n' "${OUT_DIR}"
