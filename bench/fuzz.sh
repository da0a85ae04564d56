#!/usr/bin/env bash
# Fuzzing the SavedModel importer (issue "Reliability").
#
#   bench/fuzz.sh [N=10000] [first-seed=1000000] [timeout-ms=60000] [out=bench/results/fuzz-long.json]
#
# Runs dev.segcam.bench.FuzzLong: N cases, each drawn from new Random(first-seed + i) by
# dev.segcam.reliability.Fuzzer. A case takes one of the ten SavedModels (src/test/resources/fixtures
# and weights/scene-unet) and applies one mutation: bit flips, byte runs or truncation of
# saved_model.pb / variables.index / variables.data-*; structural edits made with the
# org.tensorflow.proto classes and re-serialized (huge/negative/unknown dims in TensorShapeProtos and
# in BundleEntryProtos, bad offsets/sizes/shards/dtypes, NaN/Inf weights with a valid crc32c, cycles
# in GraphDef or function inputs, self- and mutually recursive FunctionDefs, 10^5-deep node chains and
# 10^3-deep nested function calls, constants/inputs/Fill shapes far beyond the heap). The case imports
# the model and, if that works and the input is small, runs one CPU forward, on a worker thread
# with a timeout (a model with several signatures and no serving_default has each one imported).
# Success is fine, and so is a dev.segcam.SegcamException that says where: an import error must
# name the case's folder or a file in it, and for the GraphDef edits (shape dims, cycles,
# recursion, deep chains, huge allocations) also a node; an error from the forward of an imported
# graph must name one of its nodes. Offenders: VAGUE (typed, but naming neither), UNTYPED (any
# other exception), ERROR (OutOfMemoryError, StackOverflowError, other Errors), HANG (no end within
# the timeout). Each is printed with its seed (reproduce one: new Fuzzer(dir, ms).runCase(seed), or
# writeCase(seed, dir) to keep the mutated model). Writes the counts to the JSON ("vague_typed_errors",
# "untyped_exceptions", "errors", "hangs", "offenders", per kind); exit status 1 when there was an
# offender. The heap is capped (-Xmx1g) so that "beyond the heap" means beyond 1 GB. The timeout is
# a bound against endless loops, not a speed target: a 10^5-node chain on scene-unet takes ~6 s of
# CPU to import but up to ~40 s of wall time on a 2-core box shared with other jobs. N=10^4 took
# 18 min on a 2-core box at load ~2 (well over an hour at load ~10).
set -euo pipefail
cd "$(dirname "$0")/.."
MVN="${MVN:-mvn}"
# shellcheck source=bench/test-classpath.sh
. bench/test-classpath.sh
# shellcheck disable=SC2086
exec java -Xmx1g ${FUZZ_JAVA_OPTS:-} -cp "$cp" dev.segcam.bench.FuzzLong "$@"
