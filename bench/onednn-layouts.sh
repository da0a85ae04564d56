#!/usr/bin/env bash
# Convolution chains in NHWC vs oneDNN's own (blocked) layout (see docs/ONEDNN.md).
#
#   bench/onednn-layouts.sh [--reps 15] [--out bench/results/onednn-layouts.json]
#
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
  -cp "$cp" dev.segcam.bench.OneDnnLayoutBench "$@"
