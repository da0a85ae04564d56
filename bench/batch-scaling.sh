#!/usr/bin/env bash
# Batch scaling and memory of the whole Seg-Grad-CAM step on the CPU backend, the engine's arena on
# and off (dev.segcam.bench.BatchScaling; see docs/ONEDNN.md and bench/README.md).
#
#   bench/batch-scaling.sh [--engine onednn|java] [--size 256] [--batch 8] [--iterations 3]
#                          [--warmup 1] [--arena both|on|off] [--threads N] [--out FILE.json]
#
# Defaults: oneDNN, the 1.9M U-Net at 256x256, batch 1 vs 8, arena on and off, all cores;
# JSON under bench/results/batch-scaling-ENGINE-SIZE.json.
# Env: JAVACPP_CACHEDIR (default /tmp/javacpp-shared), OMP_WAIT_POLICY (default passive, see
#      docs/ONEDNN.md), BENCH_JAVA_OPTS (default: the segcam launcher's heap flags), MVN (default mvn).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/test-classpath.sh
. bench/test-classpath.sh
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
# shellcheck disable=SC2086
exec java -Xss8m ${BENCH_JAVA_OPTS:--XX:MaxRAMPercentage=50 -XX:InitialRAMPercentage=25} \
  -Dorg.bytedeco.javacpp.cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}" \
  -cp "$cp" dev.segcam.bench.BatchScaling "$@"
