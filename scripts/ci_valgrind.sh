#!/usr/bin/env bash
# ci_valgrind.sh - valgrind memcheck over the CLI (issue #8): a small golden
# case with ref and with the best variant (and --dump-stages), verify, and a
# few bad inputs.  A memcheck error or a leak (definite, indirect or
# possible) fails; so does an unexpected exit status.
#
#   scripts/ci_valgrind.sh             # the runs below, about a minute
#   scripts/ci_valgrind.sh --cli-suite # also every vssbench run of the Check
#                                      # `cli` suite under memcheck (~15 min)
#
# The normal build is checked (BUILD, default build).  memcheck hides
# AVX-512 from CPUID, so `best` is at most an AVX2 variant here (or omp
# over one).  The
# bad-input runs exit 1 or 2 themselves, so memcheck's own error status is
# 99 (--error-exitcode), not 1, to keep the two apart.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
JOBS=${JOBS:-$(nproc)}
TMP=$(mktemp -d /tmp/vss_valgrind.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# libgomp keeps its pool threads alive until exit: each one's TLS block
# (pthread_create -> _dl_allocate_tls) shows as "possibly lost".  Not ours.
cat >"$TMP/vss.supp" <<'SUPP'
{
   libgomp_pool_thread_tls
   Memcheck:Leak
   match-leak-kinds: possible
   ...
   fun:_dl_allocate_tls
   ...
   fun:pthread_create*
   obj:*/libgomp.so*
}
SUPP
VG=(valgrind -q --error-exitcode=99 --leak-check=full --suppressions="$TMP/vss.supp"
    --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes)
TINY=golden/v0_tiny.safetensors   # v0, 1x5x7x16, stages
V05=golden/v05_b2.safetensors     # v05 with MLP, 2x4x3x20

command -v valgrind >/dev/null || { echo "ci_valgrind: valgrind is not installed" >&2; exit 1; }
make --no-print-directory -j"$JOBS" all BUILD="$BUILD" >/dev/null
BIN=$BUILD/vssbench
fails=0

# check NAME WANT_RC [ARGS...]: vssbench ARGS under memcheck exits WANT_RC
check() {
  local name=$1 want=$2 rc=0
  shift 2
  "${VG[@]}" --log-file="$TMP/vg.log" "$BIN" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  if [ "$rc" -eq "$want" ] && [ ! -s "$TMP/vg.log" ]; then
    echo "ok    $name (exit $rc)"
  else
    echo "FAIL  $name: exit $rc, expected $want" >&2
    cat "$TMP/vg.log" "$TMP/err" >&2
    fails=$((fails + 1))
  fi
}

run=(run --weights "$TINY" --input "$TINY")
check "run $TINY ref"            0 "${run[@]}" --output "$TMP/y_ref.safetensors" --variant ref
check "run $TINY best"           0 "${run[@]}" --output "$TMP/y_best.safetensors"
check "run $V05 best, stages"    0 run --weights "$V05" --input "$V05" \
                                   --output "$TMP/y_v05.safetensors" --dump-stages "$TMP/stages"
check "verify all variants"      0 verify --quiet --variant all "$TINY" "$V05"
check "list"                     0 list
# bad inputs: the error path frees everything too
head -c 100 "$TINY" >"$TMP/trunc.safetensors"
printf '\0\0\0\200\0\0\0\0{}' >"$TMP/claims2g.safetensors"
check "missing weights"          1 run --weights "$TMP/nope.safetensors" --input "$TINY" \
                                   --output "$TMP/y.safetensors"
check "truncated weights"        1 run --weights "$TMP/trunc.safetensors" --input "$TINY" \
                                   --output "$TMP/y.safetensors"
check "header claims 2 GiB"      1 run --weights "$TMP/claims2g.safetensors" --input "$TINY" \
                                   --output "$TMP/y.safetensors"
check "input of the wrong C"     1 run --weights "$TINY" --input "$V05" --output "$TMP/y.safetensors"
check "fuzzer regression input"  1 run --weights "$TINY" \
                                   --input tests/fuzz/corpus/regress_newline_in_dtype.safetensors \
                                   --output "$TMP/y.safetensors"
check "output folder missing"    1 "${run[@]}" --output "$TMP/no/such/dir/y.safetensors"
check "unknown variant"          2 "${run[@]}" --output "$TMP/y.safetensors" --variant nope
[ ! -e "$TMP/y.safetensors" ] || { echo "FAIL  a failed run left $TMP/y.safetensors" >&2; fails=$((fails + 1)); }

if [ "${1:-}" = "--cli-suite" ]; then
  # every vssbench the Check cli suite runs goes through memcheck, one log
  # per process; any report in any log fails.  The suite's own verdict is
  # printed but not judged here: under the wrapper the repro lines name the
  # real binary, not $VSSBENCH, and everything is ~50x slower.
  make --no-print-directory -j"$JOBS" "$BUILD/vss_tests" BUILD="$BUILD" >/dev/null
  mkdir -p "$TMP/logs"
  wrap=$TMP/vssbench
  printf '#!/bin/sh\nexec %s --log-file=%s/logs/%%p.log %s "$@"\n' \
    "${VG[*]}" "$TMP" "$PWD/$BIN" >"$wrap"
  chmod +x "$wrap"
  VSSBENCH=$wrap CK_RUN_SUITE=cli CK_TIMEOUT_MULTIPLIER=20 "$BUILD/vss_tests" >"$TMP/suite.out" 2>&1 || true
  grep -E '^[0-9]+%: Checks' "$TMP/suite.out" | sed 's/^/      cli suite: /'
  nlogs=$(find "$TMP/logs" -name '*.log' | wc -l)
  bad=$(find "$TMP/logs" -name '*.log' -size +0 | wc -l)
  if [ "$bad" -eq 0 ] && [ "$nlogs" -gt 0 ]; then
    echo "ok    Check cli suite: $nlogs vssbench runs, memcheck clean"
  else
    echo "FAIL  Check cli suite: $bad of $nlogs vssbench runs with memcheck reports" >&2
    find "$TMP/logs" -name '*.log' -size +0 -exec cat {} + >&2
    fails=$((fails + 1))
  fi
fi

if [ "$fails" -ne 0 ]; then
  echo "ci_valgrind: $fails FAILED" >&2
  exit 1
fi
echo "ci_valgrind: PASS"
