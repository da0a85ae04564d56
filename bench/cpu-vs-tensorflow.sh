#!/usr/bin/env bash
# Seg-Grad-CAM on segcam's CPU backend vs TensorFlow-CPU (and the PyTorch peers) over the benchmark
# set of issue #15, one run (see bench/README.md).
#
#   bench/cpu-vs-tensorflow.sh [--models scene-unet:64,unet:256,unet:512,unet124:512,classic:512]
#                              (model:size at every --batches; model:size:batch at that batch only)
#                              [--batches 1,8] [--iterations N (default: per configuration)]
#                              [--warmup 1] [--warmup-s 5] [--threads N] [--memory true|false]
#                              [--peers torch-hand,pytorch-grad-cam|none] [--engine onednn|java]
#                              [--out bench/results/cpu-vs-tensorflow-set.json] [--readme README.md|none]
#   bench/cpu-vs-tensorflow.sh --single [the one-model options of dev.segcam.bench.CpuVsTensorflow:
#                              --size 256 --iterations 20 ... --out bench/results/cpu-vs-tensorflow.json]
#   bench/cpu-vs-tensorflow.sh --readme-only [--json bench/results/cpu-vs-tensorflow-set.json] [--readme README.md]
#
# Default: the whole set (dev.segcam.bench.CpuVsTensorflowSet), batch 1 and 8, ~25 minutes on an
# idle 2-core machine; writes the JSON after every configuration and regenerates README.md's
# "Measured" table from it (MeasuredDoc). --single is the older one-model run with its phase split
# and JFR profile (also chosen when an option only it takes is given: --size, --layer, --classes,
# --class, --seed, --tf-inter-threads, --*-iterations of phases/profile, --node-profile-reps);
# --readme-only regenerates the README table from a JSON.
#
# Compiles main + test classes (offline), resolves the test classpath once into
# target/bench-classpath.txt, then runs the program in its own JVM (so JVM flags are ours).
# Heap: the classic 31M U-Net at 512x512 batch 8 needs many GB on segcam's side (every activation
# and gradient a Java array), so -Xmx is 75% of the machine's memory (MemTotal of /proc/meminfo;
# 18 GB of 24 GB) unless BENCH_HEAP_MB says otherwise. The memory children get the same flags.
# Env: JAVACPP_CACHEDIR (default /tmp/javacpp-shared, where TF's 650 MB native is unpacked once),
#      BENCH_JAVA_OPTS (extra JVM flags), BENCH_HEAP_MB, MVN (default mvn).
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}"

main=dev.segcam.bench.CpuVsTensorflowSet
case "${1:-}" in
  --single) main=dev.segcam.bench.CpuVsTensorflow; shift ;;
  --readme-only) main=dev.segcam.bench.MeasuredDoc; shift ;;
  *)
    # the one-model run's own options (as before the set existed) still select it
    for a in "$@"; do
      case "$a" in
        --size|--classes|--class|--layer|--seed|--tf-inter-threads|--phase-iterations|--profile-iterations|--node-profile-reps)
          main=dev.segcam.bench.CpuVsTensorflow ;;
      esac
    done ;;
esac

# shellcheck source=bench/test-classpath.sh
source bench/test-classpath.sh # compiles the tests, sets $cp

mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null || echo 8192)
heap_mb="${BENCH_HEAP_MB:-$((mem_mb * 3 / 4))}"

# oneDNN's OpenMP threads sleep at barriers (spinning is ruinous on a shared machine: docs/ONEDNN.md)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# shellcheck disable=SC2086
exec java -Xss8m -Xms2g "-Xmx${heap_mb}m" \
  -Dorg.bytedeco.javacpp.cachedir="$cachedir" ${BENCH_JAVA_OPTS:-} \
  -cp "$cp" "$main" "$@"
