#!/usr/bin/env bash
# bench.sh - the `make bench` job, after the Makefile has installed the
# dependencies and built build/vssbench and build/vss_bench:
#   1. build/vssbench verify --variant all golden   -> verify.txt
#   2. build/vss_bench: the C rows (BENCH_SET)       -> vss.json
#   3. scripts/bench_pytorch.py: block/pytorch rows  -> pytorch.json
#   4. scripts/report.py: bench.json, report.md, report.html, *.svg
#   5. the summary table and the report's path
# into reports/<date>-<shortsha>/.
#
# Environment: BENCH_SET=default|full, BENCH_FILTER (a regex over row
# names, overrides the set), BENCH_REPETITIONS (3), BENCH_MIN_TIME (seconds
# per repetition, 0.1), BUILD (build), PYTHON (/usr/bin/python3), REPORTS
# (reports).
set -euo pipefail
cd "$(dirname "$0")/.."

# OpenMP threads sleep rather than spin while waiting: on a shared machine
# libgomp's default spinning made 2 threads 5x slower than 1 under load.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
SET=${BENCH_SET:-default}
REPS=${BENCH_REPETITIONS:-3}
MIN_TIME=${BENCH_MIN_TIME:-0.1}
REPORTS=${REPORTS:-reports}

# The default set (about 3 minutes on 2 cores): the block, ssm_scan and
# linear rows of every implementation at stage 1 and 3 of both block forms,
# and every other op at stage 1 (so the per-op breakdown is complete there).
# The "/" after the shape keeps v2_T3 from matching v2_T3_b8.
DEFAULT_FILTER='^(block|ssm_scan|linear)/[^/]+/(v0_T1|v0_T3|v2_T1|v2_T3)/|^(layernorm|dwconv3x3|gate|gelu)/[^/]+/(v0_T1|v2_T1)/'
DEFAULT_PYTORCH=v0_T1,v0_T3,v2_T1,v2_T3
case "$SET" in
  default) filter=$DEFAULT_FILTER; pt_shapes=$DEFAULT_PYTORCH ;;
  full)    filter=.; pt_shapes= ;;
  *) echo "bench.sh: BENCH_SET must be default or full, not '$SET'" >&2; exit 2 ;;
esac
[ -n "${BENCH_FILTER:-}" ] && filter=$BENCH_FILTER

sha=$(git rev-parse --short HEAD 2>/dev/null || echo nocommit)
git diff --quiet HEAD 2>/dev/null || sha_note="$sha + uncommitted changes"
out=$REPORTS/$(date +%Y-%m-%d)-$sha
mkdir -p "$out"
rm -f "$out"/*.svg "$out"/vss.json "$out"/pytorch.json
t0=$(date +%s)
step() { echo; echo "== [$1/5] $2 ($(( $(date +%s) - t0 )) s)"; }

step 1 "verify the golden cases"
verify_status="not run: $BUILD/vssbench is not built"
if [ -x "$BUILD/vssbench" ]; then
  if "$BUILD/vssbench" verify --variant all golden >"$out/verify.txt" 2>&1; then
    verify_status="pass"
  else
    verify_status="FAILED (exit $?)"
  fi
  tail -n 5 "$out/verify.txt"
else
  echo "$verify_status" | tee "$out/verify.txt"
fi
echo "verify: $verify_status"

step 2 "benchmark rows: set '$SET', $REPS repetitions of >= $MIN_TIME s (progress below)"
libbench=$(dpkg-query -W -f='${Version}' libbenchmark-dev 2>/dev/null || echo unknown)
"$BUILD/vss_bench" --benchmark_filter="$filter" \
  --benchmark_repetitions="$REPS" --benchmark_min_time="$MIN_TIME" \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$out/vss.json" --benchmark_out_format=json \
  --benchmark_context="vss_git=${sha_note:-$sha},vss_bench_set=$SET,vss_libbenchmark=$libbench"

step 3 "PyTorch rows (block/pytorch, 1 thread)"
pt_args=(--out "$out/pytorch.json" --counts "$out/vss.json" --repetitions "$REPS" --min-time "$MIN_TIME")
[ -n "$pt_shapes" ] && pt_args+=(--shapes "$pt_shapes")
if [ -n "${BENCH_FILTER:-}" ]; then
  echo "skipped: BENCH_FILTER is set"
elif ! "$PYTHON" scripts/bench_pytorch.py "${pt_args[@]}"; then
  echo "bench_pytorch.py failed: the report has no PyTorch rows" >&2
fi

step 4 "report"
"$PYTHON" scripts/report.py merge --out "$out/bench.json" "$out/vss.json" "$out/pytorch.json" \
  --context "vss_verify=$verify_status"
rm -f "$out/vss.json" "$out/pytorch.json"
"$PYTHON" scripts/report.py render "$out"

step 5 "summary"
"$PYTHON" scripts/report.py summary "$out/bench.json"
echo
echo "report: $out/report.html ($out/report.md, $out/bench.json); took $(( $(date +%s) - t0 )) s"
