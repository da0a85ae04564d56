#!/usr/bin/env bash
# segcam vs the two PyTorch Seg-Grad-CAM peers on one model: export, agreement, timing, JSON
# (see bench/README.md, "torch peers").
#
#   bench/peers/torch-peer-check.sh [--model scene-unet|unet:256|unet124:512|classic:512] [--batch 1]
#       [--threads N] [--iterations 10] [--class 1] [--layer NAME] [--engine onednn|java] [--seed 15]
#       [--out target/torch-peer/check-<model>-b<batch>.json]
#
# Compiles main + test classes (offline), resolves the test classpath once, runs
# dev.segcam.bench.TorchPeerCheck, which starts /usr/bin/python3 bench/peers/torch_gradcam.py per
# peer (Debian's python3-torch; pytorch-grad-cam from shared/peers/ beside the repository).
# Env: JAVACPP_CACHEDIR (default /tmp/javacpp-shared), OMP_WAIT_POLICY (default passive, for
# oneDNN's and PyTorch's OpenMP threads alike), MVN (default mvn).
set -euo pipefail
cd "$(dirname "$0")/../.."
MVN="${MVN:-mvn}"
cachedir="${JAVACPP_CACHEDIR:-/tmp/javacpp-shared}"

# shellcheck source=bench/test-classpath.sh
source bench/test-classpath.sh # compiles the tests, sets $cp

export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec java -Xss8m -Xms1g -Xmx8g -Dorg.bytedeco.javacpp.cachedir="$cachedir" \
  -cp "$cp" dev.segcam.bench.TorchPeerCheck "$@"
