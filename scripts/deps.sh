#!/usr/bin/env bash
# deps.sh [test|bench|golden|all] - make sure the Debian packages a job needs
# are installed.  As root it installs what is missing (apt-get update once,
# then apt-get install); otherwise it prints the exact command and fails.
set -euo pipefail

want=${1:-test}
pkgs_test="gcc g++ make pkg-config check libcjson-dev libxsmm-dev libsimde-dev python3-torch python3-numpy python3-scipy python3-matplotlib libbenchmark-tools clang libclang-rt-14-dev valgrind"
pkgs_bench="libbenchmark-dev libbenchmark-tools libopenblas-dev python3-matplotlib python3-scipy python3-numpy python3-torch"
pkgs_golden="python3-torch python3-numpy"
case "$want" in
  test)   pkgs="$pkgs_test" ;;
  bench)  pkgs="$pkgs_test $pkgs_bench" ;;
  golden) pkgs="$pkgs_golden" ;;
  all)    pkgs="$pkgs_test $pkgs_bench $pkgs_golden" ;;
  *) echo "deps.sh: unknown job '$want' (test, bench, golden or all)" >&2; exit 2 ;;
esac

missing=()
for p in $pkgs; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
