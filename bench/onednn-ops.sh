#!/usr/bin/env bash
# Per-op times, oneDNN vs segcam's Java engine, for every convolution of the benchmark U-Nets
# (see bench/README.md and docs/ONEDNN.md).
#
#   bench/onednn-ops.sh [--cases scene-unet:64:1,unet-1.9M:256:8,...] [--target-ms 300]
#                       [--min-reps 3] [--max-reps 15] [--threads N] [--out bench/results/onednn-ops.json]
#
# A case is model:size:batch; models: scene-unet (weights/), unet-1.9M, unet-124class,
# unet-classic-31M (IR graphs with random weights, dev.segcam.bench.IrUnet).
# Env: JAVACPP_CACHEDIR (default /tmp/javacpp-shared), OMP_NUM_THREADS (oneDNN's threads; default
#      all cores, as the Java engine), OMP_WAIT_POLICY (default passive here: libgomp's spinning
#      barrier loses whole time slices when the cores are shared, see docs/ONEDNN.md),
#      BENCH_JAVA_OPTS, MVN (default mvn).
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}"

# shellcheck source=bench/test-classpath.sh
source bench/test-classpath.sh # compiles the tests, sets $cp
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

# shellcheck disable=SC2086
exec java -Xss8m -Xms2g -Xmx6g \
  -Dorg.bytedeco.javacpp.cachedir="$cachedir" ${BENCH_JAVA_OPTS:-} \
  -cp "$cp" dev.segcam.bench.OneDnnOpBench "$@"
