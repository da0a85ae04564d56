#!/usr/bin/env bash
# The one command for a GPU machine (see ../shared/device/README.md for the machine itself).
#
#   Here (CPU machine, project root):   bench/gpu-check.sh prepare
#       builds classes, test classes and every dependency jar into .device/ (plus a small Java 17
#       runtime and gpu-env.sh from ../shared/device/make-jre.sh), without the 160 MB TensorFlow
#       native, and prints the size (must stay well under the 64 MiB a device call carries).
#   Device call:  carry [".device"], command "bench/gpu-check.sh run"
#       on the GPU machine: sources .device/gpu-env.sh (Java, libcuda/cudart/cublas/cudnn paths),
#       runs every test tagged gpu (@RequiresGpu) with -Dsegcam.gpu.required=true (among them
#       CudaCamBackendTest on the ModelZoo models exported by prepare), so a library
#       that fails to load shows up as failures, not skips, then the kernel benchmark
#       (dev.segcam.backend.cuda.KernelBench) if it is built, then `segcam bench` on
#       weights/scene-unet with --backend cuda and cpu (batch 1 and 8); logs, JUnit XML and JSON go to $OUT
#       (or target/gpu-check when OUT is unset), and a short table ends the output.
#   bench/gpu-check.sh all    does both in one go on a machine that has a JDK, Maven and a GPU.
#
# Reading a failed run (first CUDA run of CudaCamBackend): gpu-env.log (libraries found), then
# CudaGraphOpsTest and CudaKernelsTest (our kernels vs their CPU twins), CudnnConvTest (cuDNN NHWC
# conv/backward-data), CudaCamBackendTest.directConvolutionsAgreeWithCudnn (cuDNN vs our direct
# kernels on whole models), then CudaCamBackendTest's per-node forward/gradient lines (the first
# node listed is where CUDA and CPU part). stderr lines "[segcam] cuDNN cannot run ..." say which
# convolutions fell back to the direct kernels. -Dsegcam.cuda.conv=direct|cudnn and
# -Dsegcam.cuda.precision=tf32 switch the backend's modes.
set -uo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

prepare() {
  set -e
  local shared="${SEGCAM_SHARED:-../shared}"
  [ -x "$shared/device/make-jre.sh" ] || shared=/work/shared
  shared="$(cd "$shared" && pwd)"
  # make-jre.sh records .device in .git/info/exclude, which a worktree (.git is a file) lacks;
  # .device/ is in .gitignore anyway, so run it from a scratch dir with an absolute output path.
  local root scratch
  root="$(pwd)"
  scratch="$(mktemp -d)"
  mkdir -p "$scratch/.git/info"
  (cd "$scratch" && "$shared/device/make-jre.sh" "$root/.device")
  rm -rf "$scratch"
  mvn -B -q -o -DskipTests -Dsegcam.ptx.skip=true package dependency:copy-dependencies \
    -DincludeScope=test -DoutputDirectory=.device/lib
  # The GPU machine has no TensorFlow: export the ModelZoo SavedModels here, for
  # CudaCamBackendTest to import there with segcam's own importer (-Dsegcam.zoo.dir).
  rm -rf .device/model-zoo
  java -Dorg.bytedeco.javacpp.cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}" \
    -cp "target/classes:target/test-classes:.device/lib/*" dev.segcam.backend.cuda.ZooExport \
    .device/model-zoo
  # TensorFlow's 160 MB native cannot travel; the plain tensorflow-core-native jar (protos) stays.
  rm -f .device/lib/tensorflow-core-native-*-linux-x86_64.jar
  # Spark (provided scope, ~300 MB with its tree) and oneDNN's 27 MB native do not fit in the
  # 64 MiB a call carries either: the GPU tests need neither, and `--backend cpu` there falls
  # back to the pure-Java engine with its one-line note (the reference the CUDA side is held to).
  rm -rf .device/provided
  mvn -B -q -o dependency:copy-dependencies -DincludeScope=provided -DoutputDirectory=.device/provided
  local jar
  for jar in .device/provided/*.jar; do rm -f ".device/lib/$(basename "$jar")"; done
  rm -rf .device/provided
  rm -f .device/lib/dnnl-*.jar
  rm -rf .device/classes .device/test-classes
  cp -r target/classes target/test-classes .device/
  rm -rf .device/test-classes/dev/segcam/spark
  git rev-parse --short HEAD >.device/commit.txt 2>/dev/null || echo unknown >.device/commit.txt
  du -sh .device
  local kib
  kib=$(du -sk .device | cut -f1)
  if [ "$kib" -gt 60000 ]; then
    echo "gpu-check: .device is ${kib} KiB, over the ~60 MiB that can travel" >&2
    exit 1
  fi
  echo "gpu-check: ready; device call: carry [\".device\"], command \"bench/gpu-check.sh run\""
}

run() {
  local out="${OUT:-target/gpu-check}"
  mkdir -p "$out"
  # shellcheck disable=SC1091
  source .device/gpu-env.sh >"$out/gpu-env.log" 2>&1
  # gpu-env.sh can pick the CUDA toolkit's forward-compatibility libcuda (cuda-*/compat), which
  # is for a driver older than the toolkit: with the card's own driver it fails every call with
  # cudaErrorSystemDriverMismatch (803), as the first run on an H100 did. The driver's libcuda it is.
  LD_LIBRARY_PATH=$(tr ':' '\n' <<<"$LD_LIBRARY_PATH" | grep -v '/compat/*$' | paste -sd:)
  export LD_LIBRARY_PATH
  {
    echo "gpu-check: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ldconfig -p 2>/dev/null | grep -E 'libcuda\.so\.1 ' | head -2
  } >>"$out/gpu-env.log" 2>&1
  cat "$out/gpu-env.log"
  local cp=".device/classes:.device/test-classes:.device/lib/*"
  local jflags="-Dsegcam.gpu.required=true -Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp-cache"
  jflags="$jflags -Dsegcam.zoo.dir=.device/model-zoo"
  local t0=$SECONDS
  # What the card and its libraries are, for the results' names (cheap; before anything can hang).
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1
    nvidia-smi 2>/dev/null | grep -Eo 'CUDA Version: [0-9.]+' | head -1
    # shellcheck disable=SC2086
    ls ${LD_LIBRARY_PATH//:/ } 2>/dev/null | grep -Eo 'lib(cudnn|cublas|cudart)\.so\.[0-9.]+' | sort -u
  } >>"$out/gpu-env.log" 2>&1
  # Each phase has its own cap (SEGCAM_GPU_TEST_TIMEOUT, default 300 s) so a hang in one still
  # leaves the logs of the others, and the whole call stays inside a device call's 10 minutes.
  # shellcheck disable=SC2086
  timeout "${SEGCAM_GPU_TEST_TIMEOUT:-300}" java $jflags -cp "$cp" \
    org.junit.platform.console.ConsoleLauncher execute \
    --scan-classpath .device/test-classes --include-tag gpu --exclude-engine junit-vintage \
    --exclude-engine junit-platform-suite --disable-banner --disable-ansi-colors \
    --details=tree --reports-dir "$out/reports" 2>&1 | tee "$out/gpu-tests.log"
  local trc=${PIPESTATUS[0]}
  local tsec=$((SECONDS - t0))
  local brc=skipped
  if [ -e .device/classes/dev/segcam/backend/cuda/KernelBench.class ]; then
    # shellcheck disable=SC2086
    timeout 45 java $jflags -cp "$cp" dev.segcam.backend.cuda.KernelBench --json "$out/kernel-bench.json" \
      2>&1 | tee "$out/kernel-bench.log"
    brc=${PIPESTATUS[0]}
  fi
  # Seg-Grad-CAM end to end on weights/scene-unet through the CLI (Backends -> CudaCamBackend),
  # CUDA and CPU in the same run; each capped so the whole call stays within its 10 minutes.
  local crc=skipped
  if [ -d weights/scene-unet ]; then
    crc=0
    for be in cuda cpu; do
      for b in 1 8; do
        # shellcheck disable=SC2086
        timeout 30 java $jflags -cp "$cp" dev.segcam.cli.Main bench weights/scene-unet \
          --backend "$be" --batch "$b" --iterations 20 --warmup 3 \
          --json "$out/bench-scene-unet-$be-b$b.json" >>"$out/cli-bench.log" 2>&1 || crc=$?
      done
    done
    # At most 8 files come back from a device call: the four JSONs travel as one.
    {
      echo "["
      local first=1 f
      for f in "$out"/bench-scene-unet-*.json; do
        [ -s "$f" ] || continue
        [ $first = 1 ] || echo ","
        first=0
        cat "$f"
      done
      echo "]"
    } >"$out/cli-bench.json"
    rm -f "$out"/bench-scene-unet-*.json
  fi
  local found succeeded failed cfailed skipped
  found=$(grep -Eo '[0-9]+ tests found' "$out/gpu-tests.log" | grep -Eo '^[0-9]+' || echo 0)
  succeeded=$(grep -Eo '[0-9]+ tests successful' "$out/gpu-tests.log" | grep -Eo '^[0-9]+' || echo 0)
  failed=$(grep -Eo '[0-9]+ tests failed' "$out/gpu-tests.log" | grep -Eo '^[0-9]+' || echo 0)
  cfailed=$(grep -Eo '[0-9]+ containers failed' "$out/gpu-tests.log" | grep -Eo '^[0-9]+' || echo 0)
  skipped=$(grep -Eo '[0-9]+ tests skipped' "$out/gpu-tests.log" | grep -Eo '^[0-9]+' || echo 0)
  local gpu
  gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
  cat >"$out/gpu-check.json" <<JSON
{"device": "${gpu:-unknown}", "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$(cat .device/commit.txt 2>/dev/null || echo unknown)",
 "tests": {"found": $found, "successful": $succeeded, "failed": $failed, "classes_failed": $cfailed, "skipped": $skipped, "seconds": $tsec, "exit": $trc},
 "kernel_bench_exit": "$brc", "cli_bench_exit": "$crc"}
JSON
  echo
  echo "=== gpu-check ============================================"
  printf '%-12s %s\n' device "${gpu:-unknown}" commit "$(cat .device/commit.txt 2>/dev/null)"
  printf '%-12s %s found, %s ok, %s failed, %s skipped, %s classes failed (%ss, exit %s)\n' \
    "gpu tests" "$found" "$succeeded" "$failed" "$skipped" "$cfailed" "$tsec" "$trc"
  grep -E '✘|\[X\]' "$out/gpu-tests.log" | head -20 | sed 's/^/  failed: /'
  if [ -s "$out/kernel-bench.log" ]; then
    echo "kernel bench (exit $brc):"
    tail -n 14 "$out/kernel-bench.log" | sed 's/^/  /'
  fi
  if [ -s "$out/cli-bench.log" ]; then
    echo "segcam bench scene-unet (cuda, cpu; batch 1, 8; exit $crc):"
    grep -iE 'median|frames|backend|error' "$out/cli-bench.log" | head -16 | sed 's/^/  /'
  fi
  echo "results in $out"
  [ "$trc" = 0 ] && [ "$brc" = 0 -o "$brc" = skipped ]
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  all) prepare && run ;;
  *) echo "usage: bench/gpu-check.sh prepare|run|all" >&2; exit 2 ;;
esac
