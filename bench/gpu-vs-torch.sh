#!/usr/bin/env bash
# segcam (CUDA) vs pytorch-grad-cam and a hand-tuned PyTorch Seg-Grad-CAM on the same card, model
# and weights (issue #16 points 2-4; bench/README.md "GPU vs PyTorch").
#
#   Here (CPU machine, project root):   bench/gpu-vs-torch.sh prepare
#       bench/gpu-check.sh prepare when .device/ is not there yet (else the classes are refreshed),
#       plus pytorch-grad-cam's source under .device/peers/; prints the size.
#   Device call:  carry [".device"], command "bench/gpu-vs-torch.sh run", timeout_s = cap + 60
#       sources .device/gpu-env.sh as gpu-check.sh run does (the toolkit's /compat libcuda dropped),
#       then one JVM (dev.segcam.bench.GpuVsTorch) per model, cheapest first; the models are built
#       there with random weights (IrUnet; scene-unet from weights/) and exported for the peers.
#       Writes two files under ${OUT:-target/gpu-vs-torch}: gpu-vs-torch.json (rewritten whole after
#       every case, so valid whenever the run stops) and gpu-vs-torch.log.
#   Dry run here (CPU):  bench/gpu-vs-torch.sh dry
#       the same JVMs and peer program on the CPU (segcam --backend ${GVT_BACKEND:-java}, Debian's
#       /usr/bin/python3 torch), tiny sizes; maps compared, JSON written.
#
# Env (run): GVT_SECONDS hard cap of the whole run (default 240); GVT_CASE_TIMEOUT per case (90 s);
# GVT_CASE_SECONDS timing budget per case after warm-up (10 s); GVT_REPS rounds at most (20);
# GVT_WARMUP (3); GVT_MODELS (default "scene-unet unet:512 unet124:512 classic:512");
# GVT_CASES (default "1x1,8x1,8x8,32x1": BATCHxTARGETS); GVT_TF32=1 adds segcam TF32 and a TF32
# hand peer; GVT_GRAPHS=1 adds hand-graph (the hand peer's whole step captured as one CUDA graph
# per shape, replayed); GVT_PYTHON (default /opt/torch/.venv/bin/python3 if there, else python3;
# dry: /usr/bin/python3); GVT_BACKEND/GVT_DEVICE (cuda/cuda; java/cpu runs this path on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

prepare() {
  set -e
  if [ -s .device/gpu-env.sh ] && [ -d .device/lib ]; then
    mvn -B -q -o test-compile -Dsegcam.ptx.skip=true
    rm -rf .device/classes .device/test-classes
    cp -r target/classes target/test-classes .device/
    rm -rf .device/test-classes/dev/segcam/spark
    git rev-parse --short HEAD >.device/commit.txt 2>/dev/null || echo unknown >.device/commit.txt
  else
    bench/gpu-check.sh prepare
  fi
  local pgc="${PGC_PATH:-}"
  [ -n "$pgc" ] || for pgc in ../shared/peers/pytorch-grad-cam /work/shared/peers/pytorch-grad-cam; do
    [ -f "$pgc/pytorch_grad_cam/grad_cam.py" ] && break
  done
  [ -f "$pgc/pytorch_grad_cam/grad_cam.py" ] || {
    echo "gpu-vs-torch: pytorch-grad-cam not found (set PGC_PATH)" >&2
    exit 1
  }
  rm -rf .device/peers
  mkdir -p .device/peers
  cp -r "$pgc" .device/peers/pytorch-grad-cam
  find .device/peers -name __pycache__ -prune -exec rm -rf {} +
  du -sh .device
  local kib
  kib=$(du -sk .device | cut -f1)
  if [ "$kib" -gt 60000 ]; then
    echo "gpu-vs-torch: .device is ${kib} KiB, over the ~60 MiB that can travel" >&2
    exit 1
  fi
  echo "gpu-vs-torch: ready; device call: carry [\".device\"], command \"bench/gpu-vs-torch.sh run\""
}

# models [cases] in order, one JVM each, inside the cap; $cp $jflags $backend $device set by caller
models() {
  local out="$1" cap="${GVT_SECONDS:-240}"
  local json="$out/gpu-vs-torch.json"
  local deadline=$((SECONDS + cap))
  local deadline_ms=$(($(date +%s%3N) + cap * 1000 - 5000))
  local spec model size left rc
  rm -f "$json"
  echo "gpu-vs-torch: cap ${cap} s, models: $GVT_MODELS_, cases $GVT_CASES_, backend $backend, torch $device"
  for spec in $GVT_MODELS_; do
    model="${spec%%:*}"
    size="${spec#*:}"
    [ "$size" != "$spec" ] || size=64
    left=$((deadline - SECONDS))
    if [ "$left" -lt 15 ]; then
      echo "gpu-vs-torch: $spec not run: ${left} s left of the ${cap} s cap"
      continue
    fi
    echo "=== $spec ($(date -u +%H:%M:%S), ${left} s left)"
    # shellcheck disable=SC2086
    timeout -k 5 "$left" java -Xss8m $jflags -cp "$cp" dev.segcam.bench.GpuVsTorch \
      --model "$model" --size "$size" --backend "$backend" --device "$device" \
      --cases "$GVT_CASES_" --tf32 "$([ "${GVT_TF32:-0}" = 1 ] && echo true || echo false)" \
      --graphs "$([ "${GVT_GRAPHS:-0}" = 1 ] && echo true || echo false)" \
      --warmup "${GVT_WARMUP:-3}" --reps "${GVT_REPS:-20}" \
      --case-seconds "${GVT_CASE_SECONDS:-10}" --case-timeout "${GVT_CASE_TIMEOUT:-90}" \
      --deadline-ms "$deadline_ms" --json "$json" --dir "${GVT_WORK:-target/gpu-vs-torch-work}" \
      --device-name "$device_name" --commit "$commit"
    rc=$?
    [ "$rc" = 0 ] || echo "gpu-vs-torch: $spec ended with status $rc"
  done
  echo "=== done in ${SECONDS} s; $json"
}

run() {
  local out="${OUT:-target/gpu-vs-torch}"
  mkdir -p "$out"
  {
    # shellcheck disable=SC1091
    source .device/gpu-env.sh 2>&1
    # as gpu-check.sh run: the toolkit's forward-compatibility libcuda fails with the card's driver
    LD_LIBRARY_PATH=$(tr ':' '\n' <<<"$LD_LIBRARY_PATH" | grep -v '/compat/*$' | paste -sd:)
    export LD_LIBRARY_PATH
    export PGC_PATH="$PWD/.device/peers/pytorch-grad-cam"
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" # the peers' CPU threads: no spinning
    local py="${GVT_PYTHON:-}"
    [ -n "$py" ] || { [ -x /opt/torch/.venv/bin/python3 ] && py=/opt/torch/.venv/bin/python3; } || py=python3
    device_name=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1)
    commit=$(cat .device/commit.txt 2>/dev/null || echo unknown)
    echo "gpu-vs-torch: $device_name; commit $commit; $("$py" -c 'import torch;print("torch",torch.__version__,"cuda",torch.version.cuda,"cudnn",torch.backends.cudnn.version())' 2>&1 | tail -1)"
    cp=".device/classes:.device/test-classes:.device/lib/*"
    jflags="-Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp-cache -Dsegcam.torch.python=$py"
    backend="${GVT_BACKEND:-cuda}" # java/cpu + GVT_DEVICE=cpu: the run path without a GPU
    device="${GVT_DEVICE:-cuda}"
    GVT_MODELS_="${GVT_MODELS:-scene-unet unet:512 unet124:512 classic:512}"
    GVT_CASES_="${GVT_CASES:-1x1,8x1,8x8,32x1}"
    models "$out"
  } 2>&1 | tee "$out/gpu-vs-torch.log"
}

dry() {
  local out="${OUT:-target/gpu-vs-torch-dry}"
  mkdir -p "$out"
  {
    # shellcheck source=bench/test-classpath.sh
    source bench/test-classpath.sh # compiles the tests, sets $cp
    export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
    local py="${GVT_PYTHON:-/usr/bin/python3}"
    device_name="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') (dry run, CPU)"
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    jflags="-Dorg.bytedeco.javacpp.cachedir=${JAVACPP_CACHEDIR:-/tmp/javacpp-shared} -Dsegcam.torch.python=$py"
    backend="${GVT_BACKEND:-java}"
    device=cpu
    GVT_MODELS_="${GVT_MODELS:-scene-unet unet:64 classic:32}"
    GVT_CASES_="${GVT_CASES:-1x1,2x1,2x3}"
    GVT_WARMUP="${GVT_WARMUP:-1}" GVT_REPS="${GVT_REPS:-3}" GVT_CASE_SECONDS="${GVT_CASE_SECONDS:-2}" \
      models "$out"
  } 2>&1 | tee "$out/gpu-vs-torch.log"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  dry) dry ;;
  *)
    echo "usage: bench/gpu-vs-torch.sh prepare|run|dry" >&2
    exit 2
    ;;
esac
