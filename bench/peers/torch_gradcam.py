#!/usr/bin/python3
"""Seg-Grad-CAM peers on PyTorch for segcam's benchmarks (CPU: issue #15; CUDA: issue #16,
bench/gpu-vs-torch.sh), on the same weights.

    python3 bench/peers/torch_gradcam.py --model DIR --peer hand|pgc [--batch 1] [--threads N]
                     [--pgc-path PATH] [--device cpu|cuda] [--tf32] [--cuda-graph]
                     [--out-name NAME]
    python3 bench/peers/torch_gradcam.py --probe

DIR is what dev.segcam.bench.TorchPeerExport wrote: graph.json + weights (segcam's imported IR),
input.npy (N,H,W,3) float32 NHWC, target.json {class, box [x0,y0,x1,y1], layer}. The batch is
input.npy's first B images (cycled if B > N), every image with the same target.

The step (both peers, as segcam's Explainer does it): forward; score S = sum over the box of the
class's logits (per image; the batch's scores are summed, images are independent); dS/dA at the
layer; channel weights = spatial means; cam = ReLU(sum_k w_k A_k); bilinear upsampling to the
input (half-pixel centers); min-max normalisation per map. Images start on the host and the maps
end there, on every device.
- hand: written here. The weights do not require grad and the layer's output is detached and made
  a leaf, so the forward up to the layer records nothing and the backward stops at the layer
  (torch.autograd.grad), as segcam's data-gradient backward does. On cuda also channels_last and
  cudnn.benchmark; K targets share one forward; --cuda-graph captures the whole step once per
  (shape, classes) and replays it.
- pgc: pytorch-grad-cam's GradCAM with SemanticSegmentationTarget, as its tutorial runs it
  (parameters require grad as nn.Module makes them, loss.backward() through the whole net; one
  call per target class). It normalises before resizing (cv2.resize) and again after; up to its
  1e-7 guard that is the same map, min-max being affine and the resize linear.
On cuda, convolutions and matmuls are FP32 unless --tf32 (set_precision).

Protocol: loads, runs one step, writes DIR/out-NAME.npy (B,H,W) normalised maps and
DIR/out-NAME-raw.npy (B,h,w) the ReLU'd map at the layer before resizing (pgc: its own
get_cam_image + ReLU on the hooked activations/gradients; hand: also out-NAME-upsampled.npy, the
upsampled map before normalising), NAME being --out-name or the peer, prints `info <json>` then
`READY`; then per stdin line: `run` one step, printing `ms <wall> <cpu>` (process CPU time, all
threads; on cuda the device is synchronised before and after); `case B C1,C2,...` switches to the
first B images and one target per class (the same box), runs one step, writes the maps
((K*B,H,W), target-major) and prints `READY <peak GPU MB>`, or `error <message>` when that fails
(e.g. out of memory) and waits for the next command; `quit` prints `peak_rss_mb <N>` and exits.
Other errors: a line `error <message>` on stdout and exit status 2. The process ends itself when
its parent does.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import irnet  # noqa: E402

# pytorch-grad-cam's checkout: the project's shared/ folder beside the repository, as laid out for
# development and CI (shared/peers/README.md), unless --pgc-path or PGC_PATH says otherwise
PGC_CANDIDATES = [os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "peers",
                                                "pytorch-grad-cam")),
                  "/work/shared/peers/pytorch-grad-cam"]


def find_pgc(given):
    """The pytorch-grad-cam folder to put on sys.path, or raises naming where it looked."""
    looked = [given] if given else PGC_CANDIDATES
    for path in looked:
        if os.path.isfile(os.path.join(path, "pytorch_grad_cam", "grad_cam.py")):
            return path
    raise FileNotFoundError("pytorch-grad-cam not found (no pytorch_grad_cam/grad_cam.py under %s)"
                            % " or ".join(looked))


def normalise(maps):
    """(B,H,W) -> per-map (x - min) / (max - min), 0 where the map is constant (as segcam)."""
    flat = maps.reshape(maps.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    rng = flat.max(dim=1, keepdim=True).values - lo
    out = torch.where(rng > 0, ((flat - lo) / torch.where(rng > 0, rng, torch.ones_like(rng)))
                      .clamp(max=1.0), torch.zeros_like(flat))
    return out.reshape(maps.shape)


class Hand:
    def __init__(self, net, layer, cls, mask, device="cpu", graph=False):
        for p in net.parameters():
            p.requires_grad_(False)
        self.device = torch.device(device)
        self.fast = self.device.type == "cuda"  # channels_last + cudnn.benchmark (set in main)
        if self.fast:
            net = net.to(self.device, memory_format=torch.channels_last)
        self.net, self.mask = net, torch.from_numpy(mask).to(self.device)
        self.classes = [cls]
        self.acts = None
        # CUDA graph replay: the whole step captured once per (input shape, classes)
        self.use_graph, self.graph, self.graph_key = graph, None, None
        net.layer(layer).register_forward_hook(self._leaf)

    def _leaf(self, module, inputs, output):
        self.acts = output.detach().requires_grad_()
        return self.acts

    def _compute(self, x):
        """x on the device; K = len(self.classes) targets share one forward. Returns the
        normalised maps, the raw maps and the upsampled maps on the device, target-major
        ((K*N,H,W), row k*N + i), as segcam's CamResults."""
        logits = self.net(x)
        maps, raws, ups = [], [], []
        last = len(self.classes) - 1
        for k, cls in enumerate(self.classes):
            score = (logits[:, cls] * self.mask).sum()
            (grads,) = torch.autograd.grad(score, self.acts, retain_graph=k < last)
            with torch.no_grad():
                weights = grads.mean(dim=(2, 3))
                raw = torch.relu((weights[:, :, None, None] * self.acts).sum(dim=1))
                up = F.interpolate(raw[:, None], size=x.shape[2:], mode="bilinear",
                                   align_corners=False)[:, 0]
                maps.append(normalise(up))
                raws.append(raw)
                ups.append(up)
        self.acts = None
        return torch.cat(maps), torch.cat(raws), torch.cat(ups)

    def _capture(self, x):
        """Warm-up on a side stream (cudnn.benchmark chooses there), then one capture."""
        self.graph = self.outputs = None
        self.static_x = torch.empty(x.shape, device=self.device).contiguous(
            memory_format=torch.channels_last)
        self.static_x.copy_(x)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._compute(self.static_x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.outputs = self._compute(self.static_x)
        self.graph = graph

    def step(self, x):
        """x on the host (N,C,H,W); the maps come back to the host."""
        if self.use_graph:
            key = (tuple(x.shape), tuple(self.classes))
            if key != self.graph_key:
                self.graph_key = None
                self._capture(x)
                self.graph_key = key
            self.static_x.copy_(x)
            self.graph.replay()
            maps, raws, ups = self.outputs
        else:
            x = x.to(self.device)
            if self.fast:
                x = x.contiguous(memory_format=torch.channels_last)
            maps, raws, ups = self._compute(x)
        with torch.no_grad():
            out = maps.cpu().numpy()
        return out, {"raw": lambda: raws.cpu().numpy(), "upsampled": lambda: ups.cpu().numpy()}


class Pgc:
    def __init__(self, net, layer, cls, mask, batch, pgc_path, device="cpu"):
        import pgc_stubs

        self.path = pgc_path
        self.stubbed = pgc_stubs.install()
        self.stubs_line = pgc_stubs.describe()
        sys.path.insert(0, pgc_path)
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget

        self.target_class = SemanticSegmentationTarget
        self.mask = mask
        self.cam = GradCAM(model=net.to(device), target_layers=[net.layer(layer)])
        self.batch(batch, [cls])

    def batch(self, batch, classes):
        """One call of GradCAM per class (as its tutorial explains one category at a time), every
        image of the batch with that class's target."""
        self.targets = [[self.target_class(c, self.mask) for _ in range(batch)] for c in classes]

    def step(self, x):
        return np.concatenate([self.cam(input_tensor=x, targets=t) for t in self.targets]), None

    def raw(self, x):
        """pytorch-grad-cam's own map at the layer before its resize (after the last step)."""
        ag = self.cam.activations_and_grads
        acts = ag.activations[0].cpu().numpy()
        grads = ag.gradients[0].cpu().numpy()
        layer = self.cam.target_layers[0]
        return np.maximum(
            self.cam.get_cam_image(x, layer, self.targets[-1], acts, grads), 0)


def set_precision(device, tf32):
    """cuDNN convolutions and cuBLAS in FP32 unless tf32 (PyTorch's own default lets cuDNN use
    TF32). torch >= 2.9 has fp32_precision ("ieee"/"tf32") and deprecates allow_tf32; mixing the
    two can be refused, so the new one is used where it exists. Returns what is in effect."""
    if device != "cuda":
        return None
    mode = "tf32" if tf32 else "ieee"
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        try:
            conv.fp32_precision = mode
            torch.backends.cuda.matmul.fp32_precision = mode
            return {"cudnn.conv.fp32_precision": conv.fp32_precision,
                    "cuda.matmul.fp32_precision": torch.backends.cuda.matmul.fp32_precision}
        except (AttributeError, RuntimeError, ValueError) as e:
            print("set_precision: fp32_precision refused (%s); allow_tf32 instead" % e,
                  file=sys.stderr)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32}


def watch_parent():
    """Ends this process when its parent (the benchmark's JVM) is gone, e.g. killed at a case's
    time limit, so that no orphan keeps the GPU's memory."""
    import threading

    parent = os.getppid()

    def loop():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=loop, daemon=True).start()


def peak_rss_mb():
    """This process's peak resident set: VmHWM (belongs to the exec'd image; ru_maxrss would keep
    the parent's peak across fork + exec, e.g. a JVM's), else ru_maxrss (KiB on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fail(msg):
    print("error " + msg.replace("\n", " "), flush=True)
    sys.exit(2)


def write_maps(model_dir, peer_name, peer, maps, extra, x):
    out = os.path.join(model_dir, "out-%s" % peer_name)
    np.save(out + ".npy", np.asarray(maps, dtype=np.float32))
    if extra is not None:
        np.save(out + "-raw.npy", extra["raw"]())
        np.save(out + "-upsampled.npy", extra["upsampled"]())
    else:
        np.save(out + "-raw.npy", np.asarray(peer.raw(x), dtype=np.float32))


def step_failed(e, cuda):
    """A step that failed (e.g. out of memory): one `error` line; the peer waits for a command."""
    if cuda:
        torch.cuda.empty_cache()
    print("error %s: %s" % (type(e).__name__, str(e).replace("\n", " ")[:300]), flush=True)


def timed_step(peer, x, cuda):
    if cuda:
        torch.cuda.synchronize()
    w0, c0 = time.perf_counter(), time.process_time()
    peer.step(x)
    if cuda:
        torch.cuda.synchronize()
    w1, c1 = time.perf_counter(), time.process_time()
    return "ms %.4f %.4f" % ((w1 - w0) * 1e3, (c1 - c0) * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probe", action="store_true",
                    help="print whether each peer can run here (torch loaded; pgc found), exit")
    ap.add_argument("--model")
    ap.add_argument("--peer", choices=["hand", "pgc"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--pgc-path", default=os.environ.get("PGC_PATH"))
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--tf32", action="store_true", help="let cuDNN and cuBLAS use TF32 (cuda)")
    ap.add_argument("--cuda-graph", action="store_true",
                    help="hand on cuda: capture the whole step once per shape, replay it")
    ap.add_argument("--out-name", help="name of the out-NAME*.npy files (default: the peer)")
    a = ap.parse_args()
    if a.probe:
        print("probe hand ok")
        try:
            print("probe pgc ok %s" % find_pgc(a.pgc_path))
        except FileNotFoundError as e:
            print("probe pgc %s" % e)
        return
    if not a.model or not a.peer:
        fail("--model DIR and --peer hand|pgc are required")
    if a.batch < 1 or a.threads < 1:
        fail("--batch and --threads must be >= 1, got %d and %d" % (a.batch, a.threads))
    watch_parent()
    torch.set_num_threads(a.threads)
    cuda = a.device == "cuda"
    if a.cuda_graph and (a.peer != "hand" or not cuda):
        fail("--cuda-graph is for --peer hand --device cuda")
    if cuda and not torch.cuda.is_available():
        fail("--device cuda: torch %s sees no CUDA device" % torch.__version__)
    precision = set_precision(a.device, a.tf32)
    if cuda and a.peer == "hand":
        torch.backends.cudnn.benchmark = True
    try:
        with open(os.path.join(a.model, "target.json")) as f:
            target = json.load(f)
        images = np.load(os.path.join(a.model, "input.npy"))
        net = irnet.IrNet(a.model).eval()
    except (OSError, ValueError, KeyError, irnet.UnsupportedGraph) as e:
        fail("%s: %s" % (a.model, e))
    if images.ndim != 4:
        fail("%s/input.npy: expected (N,H,W,C), got %s" % (a.model, images.shape))
    n, h, w, _ = images.shape

    def batch_of(b):
        chosen = images[np.arange(b) % n]
        return torch.from_numpy(np.ascontiguousarray(chosen.transpose(0, 3, 1, 2),
                                                     dtype=np.float32))

    x = batch_of(a.batch)
    cls = int(target["class"])
    x0, y0, x1, y1 = target["box"]
    mask = np.zeros((h, w), dtype=np.float32)
    mask[y0:y1, x0:x1] = 1.0
    try:
        if a.peer == "hand":
            peer = Hand(net, target["layer"], cls, mask, a.device, a.cuda_graph)
        else:
            peer = Pgc(net, target["layer"], cls, mask, a.batch, find_pgc(a.pgc_path), a.device)
    except (irnet.UnsupportedGraph, FileNotFoundError) as e:
        fail(str(e))
    name = a.out_name or a.peer

    maps, extra = peer.step(x)
    write_maps(a.model, name, peer, maps, extra, x)
    info = {
        "peer": a.peer, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "batch": a.batch, "input": [a.batch, images.shape[3], h, w], "layer": target["layer"],
        "class": cls,
        "box": [x0, y0, x1, y1], "mkldnn": torch.backends.mkldnn.is_available(),
        "pytorch_grad_cam": peer.path if a.peer == "pgc" else None,
        "stand_ins": peer.stubs_line if a.peer == "pgc" else None,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "tf32": a.tf32, "precision": precision, "channels_last": cuda and a.peer == "hand",
        "cudnn_benchmark": cuda and a.peer == "hand", "cuda_graphs": a.cuda_graph,
    }
    print("info " + json.dumps(info), flush=True)
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = line.strip().split()
        if cmd == ["run"]:
            try:
                print(timed_step(peer, x, cuda), flush=True)
            except RuntimeError as e:  # e.g. out of memory: reported, the peer waits for a case
                step_failed(e, cuda)
        elif len(cmd) == 3 and cmd[0] == "case":
            # case B c1,c2,...: batch B, one target per class (same box); one step, maps written
            try:
                x = None
                if cuda:
                    torch.cuda.empty_cache()  # the last case's cache, for the other processes
                x = batch_of(int(cmd[1]))
                classes = [int(c) for c in cmd[2].split(",")]
                if a.peer == "hand":
                    peer.classes = classes
                else:
                    peer.batch(int(cmd[1]), classes)
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                maps, extra = peer.step(x)
                write_maps(a.model, name, peer, maps, extra, x)
                peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else 0.0
                print("READY %.1f" % peak, flush=True)
            except (RuntimeError, ValueError) as e:  # torch.cuda.OutOfMemoryError is one
                x = None
                step_failed(e, cuda)
        elif cmd == ["quit"]:
            break
        elif cmd:
            fail("unknown command %r (expected run, case B CLASSES or quit)" % line.strip())
    print("peak_rss_mb %.1f" % peak_rss_mb(), flush=True)


if __name__ == "__main__":
    main()
