#!/usr/bin/env bash
# Seg-Grad-CAM on segcam's CPU engine vs TensorFlow-CPU, same model, same run (see bench/README.md).
#
#   bench/cpu-vs-tensorflow.sh [--iterations 20] [--warmup 3] [--threads N] [--layer bottleneck_b/relu]
#                              [--size 256] [--classes 4] [--class 1] [--phase-iterations 5]
#                              [--profile-iterations 5] [--out bench/results/cpu-vs-tensorflow.json]
#                              [--engine onednn|java]   (segcam's CPU op table; default onednn)
#
# Compiles main + test classes (offline), resolves the test classpath once into
# target/bench-classpath.txt, then runs dev.segcam.bench.CpuVsTensorflow in its own JVM (so JVM
# flags are ours: heap, and JFR works). Results: stdout and the JSON given by --out.
# Env: JAVACPP_CACHEDIR (default /tmp/javacpp-shared, where TF's 650 MB native is unpacked once),
#      BENCH_JAVA_OPTS (extra JVM flags, e.g. -Dsegcam.backward.profile=true), MVN (default mvn).
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}"

"$MVN" -B -q -o test-compile -Dsegcam.ptx.skip=true
cpfile=target/bench-classpath.txt
if [ ! -s "$cpfile" ] || [ pom.xml -nt "$cpfile" ]; then
  "$MVN" -B -q -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile"
fi
cp="target/test-classes:target/classes:$(cat "$cpfile")"

# oneDNN's OpenMP threads sleep at barriers (spinning is ruinous on a shared machine: docs/ONEDNN.md)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# shellcheck disable=SC2086
exec java -Xss8m -Xms2g -Xmx4g \
  -Dorg.bytedeco.javacpp.cachedir="$cachedir" ${BENCH_JAVA_OPTS:-} \
  -cp "$cp" dev.segcam.bench.CpuVsTensorflow "$@"
