#!/usr/bin/env bash
# e2e/critest.sh [FOCUS_REGEX] [SKIP_REGEX] - run critest (cri-tools v1.36.0 validation suite)
# against the daemon on $BULKHEAD_SOCK (started by e2e/lib/daemon.sh; images from the loopback
# registry via the daemon's mirrors).
#   FOCUS_REGEX  ginkgo focus (default $CRITEST_FOCUS, else every spec)
#   SKIP_REGEX   ginkgo skip (default: the documented list in e2e/critest-skip.list)
# Full output: $E2E_WORK/$CRITEST_NAME.log; JSON report (for e2e/lib/summarize.mjs):
# $E2E_WORK/$CRITEST_NAME-report.json (CRITEST_NAME defaults to "critest"; CRITEST_LOG /
# CRITEST_REPORT override the paths). CRITEST_ARGS: extra critest flags, e.g.
# "--runtime-handler=microvm" or "-websocket-exec -websocket-attach -websocket-portforward".
# Prints the failures and ginkgo's summary lines
# ("Ran N of M Specs", "N Passed | N Failed | N Pending | N Skipped"); exits non-zero on failure.
set -euo pipefail
LOG_TAG=critest
. "$(dirname "$0")/lib/common.sh"

FOCUS=${1:-${CRITEST_FOCUS:-}}
SKIP=${2:-$(critest_skip_regex)}
NAME=${CRITEST_NAME:-critest}
OUT=${CRITEST_LOG:-$E2E_WORK/$NAME.log}
REPORT=${CRITEST_REPORT:-$E2E_WORK/$NAME-report.json}
[ -x "$CRITEST" ] || die "critest not found at $CRITEST (run e2e/setup.sh)"
[ -S "$BULKHEAD_SOCK" ] || die "no daemon socket at $BULKHEAD_SOCK (start it with e2e/lib/daemon.sh start)"

args=(
  --runtime-endpoint "unix://$BULKHEAD_SOCK" --image-endpoint "unix://$BULKHEAD_SOCK"
  --ginkgo.no-color --ginkgo.json-report "$REPORT"
)
# shellcheck disable=SC2206 # word splitting of the extra flags is intended
[ -n "${CRITEST_ARGS:-}" ] && args+=(${CRITEST_ARGS})
[ -n "$FOCUS" ] && args+=(--ginkgo.focus "$FOCUS")
[ -n "$SKIP" ] && args+=(--ginkgo.skip "$SKIP")
log "critest $CRI_TOOLS_VERSION ${CRITEST_ARGS:-} focus=${FOCUS:-<all>} skip=${SKIP:-<none>}"
rm -f "$REPORT"
rc=0
cd "$E2E_WORK"
"$CRITEST" "${args[@]}" > "$OUT" 2>&1 || rc=$?
if grep -q '^Summarizing' "$OUT"; then sed -n '/^Summarizing/,/^Ran [0-9]/p' "$OUT" | sed '$d'; fi
summary=$(grep -E '^Ran [0-9]+ of [0-9]+ Specs|^(SUCCESS|FAIL)! -- |[0-9]+ Passed \| [0-9]+ Failed' "$OUT" || true)
if [ -n "$summary" ]; then
  echo "$summary"
else
  tail -n 40 "$OUT"
fi
log "full output: $OUT (exit $rc)"
exit $rc
