#!/usr/bin/env bash
# Issue #14 point 3: K targets (default 9) at 512x512 on the 124-class U-Net, sparse score seeds
# against the dense seeds of before, interleaved, in a 1.5 GB heap.
#
#   bench/many-targets.sh [--targets 9] [--iterations 5] [--threads N] [--java] [--out FILE]
#
# Runs dev.segcam.bench.ManyTargets (test scope: it exports the model with TensorFlow Java);
# JSON to bench/results/many-targets-cpu.json. About 3-6 minutes on a busy 2-core box.
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
# shellcheck source=bench/test-classpath.sh
. bench/test-classpath.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# shellcheck disable=SC2086
exec java -Xmx1536m -Djava.awt.headless=true \
  -Dorg.bytedeco.javacpp.cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}" \
  ${BENCH_JAVA_OPTS:-} -cp "$cp" dev.segcam.bench.ManyTargets "$@"
