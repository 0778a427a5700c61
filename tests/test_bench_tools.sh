#!/usr/bin/env bash
# test_bench_tools.sh - the benchmark tools on a small fixed JSON
# (tests/data/bench_small.json: build/vss_bench output, trimmed, with one
# FAILED row and accuracy figures put in by hand):
#   - scripts/report.py merge/render/summary produce the expected rows;
#   - scripts/regress.py passes on an identical run and on one 5% slower,
#     fails on one 25% slower, on a worse accuracy figure and on a row that
#     newly fails verification.
# Last line: "N passed, N failed"; exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
DATA=tests/data/bench_small.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' "$2" | tail -n 20; }
# check NAME CMD...: passes when CMD exits 0
check() { local name=$1; shift; if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name" "$tmp/out"; fi; }
has() { grep -qF -- "$2" "$1"; }

# ---- report.py
mkdir -p "$tmp/rep"
check "report.py merge" "$PYTHON" scripts/report.py merge --out "$tmp/rep/bench.json" "$DATA" \
  --context vss_verify=pass
check "merged names lose /real_time" bash -c "! grep -q /real_time '$tmp/rep/bench.json'"
check "merged context keeps the extra key" has "$tmp/rep/bench.json" '"vss_verify": "pass"'
check "report.py render" "$PYTHON" scripts/report.py render "$tmp/rep"
md=$tmp/rep/report.md
# medians: block xsmm 7.990836 ms, avx2 11.914118, ref 272.126989;
# ssm_scan xsmm 4.446544, avx2 4.523687, ref 27.963534, naive 34.236743
check "block row: time and speedup over ref" has "$md" "| v0_T4 | 7.991 (34.05x) | 11.91 (22.84x) | 272.13 |"
check "scan row: speedup over naive" has "$md" \
  "| v0_T4 | 4.447 (7.70x) | 4.524 (7.57x) | 27.96 (1.22x) | 34.24 |"
check "failed row listed with its reason" has "$md" \
  "| gelu/xsmm/v2_T4 | – | – | – | – | – | FAILED verification: FAIL vs ref"
check "op row: GFLOP/s, GB/s, peak" grep -qE '^\| linear/openblas/v0_T4/in_proj \| 6\.520 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+%' "$md"
check "accuracy row in registry order" has "$md" \
  "| v0_T4 | PASS nmse 1.1e-12, 0.2 of limit | MARGINAL nmse 1.1e-12, 0.34 of limit |"
check "machine section" has "$md" "| measured FP32 peak, 1 core |"
check "speedup chart is an SVG" grep -q '<svg' "$tmp/rep/speedup.svg"
check "accuracy chart is an SVG" grep -q '<svg' "$tmp/rep/accuracy.svg"
check "html has the tables and charts" bash -c "grep -q '<td>v0_T4</td>' '$tmp/rep/report.html' && grep -q 'src=\"speedup.svg\"' '$tmp/rep/report.html'"
"$PYTHON" scripts/report.py summary "$tmp/rep/bench.json" >"$tmp/summary" 2>&1
check "summary table" grep -qE '^v0_T4 +7\.991 \(34\.05x\) +11\.91 \(22\.84x\) +272\.13$' "$tmp/summary"

# ---- regress.py
doctor() { # doctor OUT EXPR: a copy of the data with EXPR applied to each row b / context c
  "$PYTHON" - "$DATA" "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["context"]
for b in d["benchmarks"]:
    exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
EOF
}
slow='if b.get("aggregate_unit", "time") == "time" and not b.get("error_occurred"): b["real_time"] *= F; b["cpu_time"] *= F'
doctor "$tmp/slow25.json" "F = 1.25
$slow"
doctor "$tmp/slow5.json" "F = 1.05
$slow"
doctor "$tmp/acc.json" 'c["accuracy/v0_T4/avx2"] = "verdict=PASS nmse=9e-12 max_abs=9e-06 max_rel=4e-06 frac=0.6"'
doctor "$tmp/newfail.json" 'b.update({"error_occurred": True, "error_message": "FAILED verification: test"}) if b["name"].startswith("ssm_scan/avx2/") else None'
regress() { "$PYTHON" scripts/regress.py "$@" >"$tmp/regress" 2>&1; echo $?; }
[ "$(regress "$DATA" "$DATA")" = 0 ] && ok "regress: identical run passes" || bad "regress: identical run passes" "$tmp/regress"
[ "$(regress "$DATA" "$tmp/slow5.json")" = 0 ] && ok "regress: 5% slower passes (threshold 10%)" \
  || bad "regress: 5% slower passes (threshold 10%)" "$tmp/regress"
[ "$(regress "$DATA" "$tmp/slow25.json")" = 1 ] && has "$tmp/regress" "block/avx2/v0_T4: +25.0% time" \
  && ok "regress: 25% slower fails" || bad "regress: 25% slower fails" "$tmp/regress"
[ "$(regress --threshold 30 "$DATA" "$tmp/slow25.json")" = 0 ] && ok "regress: 25% slower passes at THRESHOLD=30" \
  || bad "regress: 25% slower passes at THRESHOLD=30" "$tmp/regress"
[ "$(regress "$DATA" "$tmp/acc.json")" = 1 ] && has "$tmp/regress" "accuracy v0_T4/avx2: 0.2 -> 0.6" \
  && ok "regress: worse accuracy fails" || bad "regress: worse accuracy fails" "$tmp/regress"
[ "$(regress "$DATA" "$tmp/newfail.json")" = 1 ] && has "$tmp/regress" "ssm_scan/avx2/v0_T4: now fails" \
  && ok "regress: a newly failing row fails" || bad "regress: a newly failing row fails" "$tmp/regress"
"$PYTHON" scripts/report.py slim --out "$tmp/base.json" "$DATA"
[ "$(regress "$tmp/base.json" "$DATA")" = 0 ] && ok "regress: a slim baseline passes an identical run" \
  || bad "regress: a slim baseline passes an identical run" "$tmp/regress"
[ "$(regress --stat min "$tmp/base.json" "$tmp/slow25.json")" = 1 ] && ok "regress: slim baseline, --stat min, 25% slower fails" \
  || bad "regress: slim baseline, --stat min, 25% slower fails" "$tmp/regress"
"$PYTHON" scripts/report.py slim --out "$tmp/base2.json" "$tmp/slow25.json" "$tmp/newfail.json" "$DATA"
[ "$(regress --stat min "$tmp/base2.json" "$tmp/slow25.json")" = 1 ] && [ "$(regress "$tmp/base2.json" "$DATA")" = 0 ] \
  && has "$tmp/base2.json" '"slim_runs"' && ok "slim of several runs: each row from its fastest run" \
  || bad "slim of several runs: each row from its fastest run" "$tmp/regress"
[ "$(regress "$DATA" "$tmp/missing.json")" = 2 ] && ok "regress: unreadable input is a usage error" \
  || bad "regress: unreadable input is a usage error" "$tmp/regress"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
