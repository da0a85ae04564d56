#!/usr/bin/env bash
# Soak: 10^4 frames through one `segcam video` run, memory/threads/descriptors sampled (issue
# "Reliability", part 3).
#
#   bench/soak.sh [frames=10000] [backend=cpu] [out=bench/results/soak-BACKEND.json] [model=weights/scene-unet] [batch=4] [threads=all]
#
# Runs dev.segcam.bench.SoakRun: synthetic 64x64 scenes as raw rgb24 on the run's stdin, through
# prepare -> explain (grad-cam, classes 1 and 3) -> overlay -> PNG sequence + JSON lines, sampling
# every 100 frames (after System.gc()): heap after GC, non-heap, direct buffers, RSS, the JVM's
# native memory (NMT), Java and OS threads, open descriptors, and on cuda the device's used memory.
# Verdict: the last thousand frames' means within 10% + 16 MB of the first thousand's, thread and
# descriptor counts within +2; exit 1 otherwise. The heap is fixed and pre-touched (-Xms = -Xmx,
# AlwaysPreTouch) so RSS does not move with heap sizing: RSS growth then means native growth.
# About 5-10 minutes for 10^4 frames on a busy 2-core box.
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
# shellcheck source=bench/test-classpath.sh
. bench/test-classpath.sh
# shellcheck disable=SC2086
exec java -Xms256m -Xmx256m -XX:+AlwaysPreTouch -XX:NativeMemoryTracking=summary \
  -Djava.awt.headless=true ${SOAK_JAVA_OPTS:-} -cp "$cp" dev.segcam.bench.SoakRun "$@"
