#!/usr/bin/env bash
# PTX check: (1) the committed PTX in src/main/resources/ptx is what kernels/*.cu compile to today
# (regenerated into a temp dir with kernels/build-ptx.sh and diffed; fails when stale, missing or
# orphaned), and (2) every module assembles for sm_90 (H100/H200) with ptxas -v, whose register,
# shared-memory and spill report is saved to target/ptxas-report.txt and printed; a spill fails.
# Needs nvcc and ptxas (CUDA 13), not a GPU. With --if-available it passes (one log line) where nvcc/ptxas are
# missing, for CI machines without the CUDA toolkit.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ptxas >/dev/null 2>&1 || ! command -v "${NVCC:-nvcc}" >/dev/null 2>&1; then
  if [ "${1:-}" = "--if-available" ]; then
    echo "ptx-check: skipped, nvcc/ptxas not installed (the committed PTX is used unchecked)"
    exit 0
  fi
  echo "ptx-check: nvcc and ptxas (CUDA 13) are needed" >&2
  exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
kernels/build-ptx.sh "$tmp/ptx" >/dev/null
status=0
for f in "$tmp"/ptx/*.ptx; do
  name="$(basename "$f")"
  if ! diff -u "src/main/resources/ptx/$name" "$f" >"$tmp/diff.txt" 2>&1; then
    echo "ptx-check: src/main/resources/ptx/$name is stale: run kernels/build-ptx.sh and commit it" >&2
    head -20 "$tmp/diff.txt" >&2
    status=1
  fi
done
for f in src/main/resources/ptx/*.ptx; do
  if [ ! -e "$tmp/ptx/$(basename "$f")" ]; then
    echo "ptx-check: $f has no kernels/*.cu source" >&2
    status=1
  fi
done
mkdir -p target
report=target/ptxas-report.txt
{
  echo "# ptxas -arch=sm_90 -v, $(ptxas --version | tail -1)"
  for f in src/main/resources/ptx/*.ptx; do
    echo "## $(basename "$f")"
    ptxas -arch=sm_90 -v "$f" -o /dev/null 2>&1 | grep -v 'Compile time' || { echo "ptxas FAILED on $f"; }
  done
} >"$report"
cat "$report"
if grep -q 'FAILED\|error' "$report"; then
  echo "ptx-check: ptxas rejected a module (see above)" >&2
  status=1
fi
if grep -q '[1-9][0-9]* bytes spill' "$report"; then
  echo "ptx-check: a kernel spills registers on sm_90 (see above): the kernels must not spill" >&2
  status=1
fi
[ "$status" = 0 ] && echo "ptx-check: OK ($(ls src/main/resources/ptx/*.ptx | wc -l) modules, report in $report)"
exit "$status"
