#!/usr/bin/env bash
# The oneDNN forward of a Seg-Grad-CAM step (1.9M U-Net, keeping what the backward to
# bottleneck_b/relu reads), unfused vs convolution + activation fused, interleaved, per op type,
# with the primitives' copy in / execute / copy out split (see docs/ONEDNN.md, "Fusion").
#
#   bench/onednn-forward.sh [size 256] [batches 1,8] [reps 7] [out bench/results/onednn-forward-fusion.json]
#
# Env: JAVACPP_CACHEDIR (default /tmp/javacpp-shared), OMP_NUM_THREADS (default 1 here: the figure
#      is the calling thread's CPU time, which load on a shared machine disturbs least),
#      OMP_WAIT_POLICY (default passive), BENCH_JAVA_OPTS, MVN (default mvn).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/test-classpath.sh # shellcheck source=bench/test-classpath.sh (compiles, sets $cp)

# shellcheck disable=SC2086
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" \
  exec java -Xss8m -Xms2g -Xmx6g -Dsegcam.onednn.profile=true ${BENCH_JAVA_OPTS:-} \
  -Dorg.bytedeco.javacpp.cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}" \
  -cp "$cp" dev.segcam.bench.OneDnnForwardBench "$@"
