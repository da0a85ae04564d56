#!/usr/bin/env bash
# The Seg-Grad-CAM table (see bench/README.md and docs/seg-gradcam-table.md):
#
#   bench/seg-gradcam-table.sh [--scenes 200] [--curve-scenes 200] [--steps 6] [--set-seed 3]
#                              [--layers dec1_3/conv2,dec1_2/conv1,mid_3/conv2] [--backend cpu|java]
#                              [--out bench/results/seg-gradcam-table.json] [--doc docs/seg-gradcam-table.md]
#
# Compiles main + test classes (offline), then runs dev.segcam.bench.SegGradCamTable on the CPU:
# every CAM method x layer x region kind on generated scenes with ground truth, the metrics of
# dev.segcam.eval, mean +- std; writes the JSON and the markdown table (both atomically).
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"

# shellcheck source=bench/test-classpath.sh
. bench/test-classpath.sh
# oneDNN's OpenMP threads sleep instead of spinning at barriers: on a shared, oversubscribed
# machine spinning made the curves about 1.7x slower (2 scenes: 26 s spinning, 11-15 s passive)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# shellcheck disable=SC2086
exec java -Xmx2g ${BENCH_JAVA_OPTS:-} -cp "$cp" dev.segcam.bench.SegGradCamTable "$@"
