# Shared by every e2e script (source it): paths, tool versions, logging.
# Everything here can be overridden from the environment.

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E=$REPO/e2e
# Scratch space of one checkout: logs, rendered configs, test reports (git-ignored).
E2E_WORK=${BULKHEAD_E2E_WORK:-$REPO/.e2e-work}

# cri-tools (crictl + critest) built from the Go module proxy, cached per version.
CRI_TOOLS_VERSION=${CRI_TOOLS_VERSION:-v1.36.0}
CRI_TOOLS_DIR=${CRI_TOOLS_DIR:-/var/cache/bulkhead-tools/$CRI_TOOLS_VERSION}
CRICTL=${CRICTL:-$CRI_TOOLS_DIR/crictl}
CRITEST=${CRITEST:-$CRI_TOOLS_DIR/critest}

# runc >= 1.2 for the runc handler (user-namespace pods need idmapped mounts; Debian 12 has 1.1.5),
# built from the Go module proxy with bulkhead-idmap-mount beside it (deploy/lib/runc.sh).
RUNC_VERSION=${RUNC_VERSION:-v1.5.3}
BULKHEAD_RUNC_DIR=${BULKHEAD_RUNC_DIR:-/var/cache/bulkhead-tools/runc-$RUNC_VERSION}
BULKHEAD_RUNC=$BULKHEAD_RUNC_DIR/runc

# Offline test images: work dir (OCI layout, registry data) and the loopback registry.
TESTIMAGES_DIR=${TESTIMAGES_DIR:-/var/cache/bulkhead-testimages}
REGISTRY=${REGISTRY:-127.0.0.1:5000}

# The daemon under test (see e2e/bulkhead-e2e.toml).
BULKHEAD_E2E_CONFIG_TEMPLATE=$E2E/bulkhead-e2e.toml
BULKHEAD_E2E_CONFIG=$E2E_WORK/bulkhead-e2e.toml
BULKHEAD_SOCK=${BULKHEAD_SOCK:-/run/bulkhead-e2e/bulkhead.sock}

# Go may live outside the default PATH (official tarball, GOPATH/bin).
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac
export PATH REPO E2E_WORK CRICTL CRITEST REGISTRY BULKHEAD_SOCK TESTIMAGES_DIR BULKHEAD_RUNC

mkdir -p "$E2E_WORK"

log() { printf '[%s] %s\n' "${LOG_TAG:-e2e}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-e2e}" "$*" >&2; exit 1; }

# A documented critest skip list as one ginkgo regex: e2e/critest-skip.list, or the list named
# (relative to e2e/), e.g. critest_skip_regex critest-skip-microvm.list.
critest_skip_regex() { grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$E2E/${1:-critest-skip.list}" | paste -sd'|' -; }
