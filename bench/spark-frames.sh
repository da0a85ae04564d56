#!/usr/bin/env bash
# The local Spark job (issue 17): Seg-Grad-CAM over samples/ and over frames extracted with ffmpeg,
# in a local[2] Spark session, writing Parquet and PNG; and its throughput against `segcam video`
# on one JVM over the same frames, same run (interleaved rounds).
#
#   bench/spark-frames.sh [frames=1000] [rounds=2] [out=bench/results/spark-frames-cpu.json] [work=target/spark-frames]
#
# Needs Java 17, Maven (Spark 4.0.1 comes as a `provided` dependency: on the test classpath, never
# in the CLI jar) and ffmpeg with libx264. Outputs under WORK: scenes.mp4, frames/*.png,
# spark/samples.parquet + spark/samples-png/, spark/frames-R.parquet + spark/frames-R-png/ (one
# heatmap PNG per frame and target), video-R/ (segcam video's overlay PNGs).
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
# the CLI jar for `segcam video` (and the test classes for the driver program)
"$MVN" -B -q -o package -DskipTests -Dsegcam.ptx.skip=true
# shellcheck source=bench/test-classpath.sh
source bench/test-classpath.sh # compiles the tests, sets $cp
exec java -Xmx2g -Djava.awt.headless=true ${SPARK_FRAMES_JAVA_OPTS:-} -cp "$cp" \
  dev.segcam.bench.SparkFrames "$@"
