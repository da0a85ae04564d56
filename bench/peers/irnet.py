"""Runs a segcam IR graph exported by dev.segcam.bench.TorchPeerExport as a PyTorch nn.Module
(NCHW).

The export (DIR/graph.json + float32 .npy weights in TensorFlow's layouts) lists the nodes from the
input to the logits in graph order; every node becomes one nn.Module (so any node can be a Grad-CAM
target layer: pytorch-grad-cam hooks the module's forward output). Pads are explicit
(top, bottom, left, right), computed by segcam for the exported input size. Op kinds other than the
ones in BUILDERS are refused with an error naming the node.
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "segcam-torch-peer/1"


class UnsupportedGraph(Exception):
    """The export holds something this executor does not run (names the node and op)."""


def _symmetric(pads):
    t, b, l, r = pads
    return t == b and l == r


class Conv(nn.Module):
    """Conv2D / DepthwiseConv2D (groups) with explicit, possibly uneven, TF padding; bias inside."""

    def __init__(self, weight, bias, stride, dilation, pads, groups):
        super().__init__()
        f, _, kh, kw = weight.shape
        even = _symmetric(pads)
        self.pads = None if even else (pads[2], pads[3], pads[0], pads[1])
        self.conv = nn.Conv2d(
            weight.shape[1] * groups, f, (kh, kw), stride=tuple(stride),
            padding=(pads[0], pads[2]) if even else 0, dilation=tuple(dilation),
            groups=groups, bias=bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if bias is not None:
                self.conv.bias.copy_(bias)

    def forward(self, x):
        if self.pads is not None:
            x = F.pad(x, self.pads)
        return self.conv(x)


class ConvTranspose(nn.Module):
    """Conv2DTranspose: the full transposed conv cropped to TF's output grid at the pads, + bias."""

    def __init__(self, weight, bias, stride, pads, output):
        super().__init__()
        cin, f, kh, kw = weight.shape
        self.conv = nn.ConvTranspose2d(cin, f, (kh, kw), stride=tuple(stride), bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
        self.bias = None if bias is None else nn.Parameter(bias.clone())
        self.top, self.left = pads[0], pads[2]
        self.out_h, self.out_w = output

    def forward(self, x):
        y = self.conv(x)
        short_h = self.top + self.out_h - y.shape[2]
        short_w = self.left + self.out_w - y.shape[3]
        if short_h > 0 or short_w > 0:  # output rows no input reaches: zeros (then the bias)
            y = F.pad(y, (0, max(short_w, 0), 0, max(short_h, 0)))
        y = y[:, :, self.top:self.top + self.out_h, self.left:self.left + self.out_w]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


class ChannelAffine(nn.Module):
    """BiasAdd (scale None) or folded BatchNorm along the channel axis."""

    def __init__(self, scale, offset):
        super().__init__()
        self.scale = None if scale is None else nn.Parameter(scale.clone())
        self.offset = nn.Parameter(offset.clone())

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if self.scale is not None:
            x = x * self.scale.view(shape)
        return x + self.offset.view(shape)


class Pool(nn.Module):
    """Max pooling (pads are -inf) or average pooling with padding excluded from the divisor."""

    def __init__(self, kind, window, stride, pads):
        super().__init__()
        self.kind = kind
        self.window, self.stride = tuple(window), tuple(stride)
        self.pads = (pads[2], pads[3], pads[0], pads[1])

    def forward(self, x):
        padded = any(self.pads)
        if self.kind == "max":
            if padded:
                x = F.pad(x, self.pads, value=float("-inf"))
            return F.max_pool2d(x, self.window, self.stride)
        if not padded:
            return F.avg_pool2d(x, self.window, self.stride)
        ones = F.pad(torch.ones_like(x[:1, :1]), self.pads)
        sums = F.avg_pool2d(F.pad(x, self.pads), self.window, self.stride, divisor_override=1)
        return sums / F.avg_pool2d(ones, self.window, self.stride, divisor_override=1)


class Activation(nn.Module):
    KINDS = {
        "relu": lambda x, a: F.relu(x),
        "relu6": lambda x, a: F.relu6(x),
        "leaky_relu": lambda x, a: F.leaky_relu(x, a),
        "elu": lambda x, a: F.elu(x),
        "sigmoid": lambda x, a: torch.sigmoid(x),
        "tanh": lambda x, a: torch.tanh(x),
    }

    def __init__(self, kind, alpha):
        super().__init__()
        self.fn, self.alpha = Activation.KINDS[kind], alpha

    def forward(self, x):
        return self.fn(x, self.alpha)


class Resize(nn.Module):
    """Bilinear resize: TF half_pixel_centers is align_corners=False; TF align_corners too."""

    def __init__(self, size, align_corners):
        super().__init__()
        self.size, self.align_corners = tuple(size), align_corners

    def forward(self, x):
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=self.align_corners)


class Concat(nn.Module):
    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, *xs):
        return torch.cat(xs, dim=self.axis)


class Softmax(nn.Module):
    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return torch.softmax(x, dim=self.axis)


def _conv_weight(w, depthwise):
    """TF (KH,KW,C,F) -> torch (F,C,KH,KW); depthwise (KH,KW,C,M) -> (C*M,1,KH,KW)."""
    if depthwise:
        kh, kw, c, m = w.shape
        return w.reshape(kh, kw, c * m).permute(2, 0, 1).unsqueeze(1).contiguous()
    return w.permute(3, 2, 0, 1).contiguous()


def _build(node, load):
    op = node["op"]
    if op in ("conv2d", "depthwise_conv2d"):
        depthwise = op == "depthwise_conv2d"
        w = _conv_weight(load(node["filter"]), depthwise)
        groups = w.shape[0] // node["filter_shape"][3] if depthwise else 1
        return Conv(w, load(node.get("bias")), node["stride"], node["dilation"], node["pads"],
                    groups)
    if op == "conv2d_transpose":
        # TF (KH,KW,F,C) -> torch ConvTranspose2d (C,F,KH,KW)
        w = load(node["filter"]).permute(3, 2, 0, 1).contiguous()
        return ConvTranspose(w, load(node.get("bias")), node["stride"], node["pads"],
                             node["output"])
    if op == "bias_add":
        return ChannelAffine(None, load(node["bias"]))
    if op == "batch_norm":
        return ChannelAffine(load(node["scale"]), load(node["offset"]))
    if op == "activation" and node["kind"] in Activation.KINDS:
        return Activation(node["kind"], node.get("alpha", 0.0))
    if op in ("max_pool", "avg_pool"):
        return Pool(op[:3], node["window"], node["stride"], node["pads"])
    if op == "resize_bilinear" and (node["align_corners"] or node["half_pixel_centers"]):
        return Resize(node["size"], node["align_corners"])
    if op == "concat":
        return Concat(node["axis"])
    if op == "softmax":
        return Softmax(node["axis"])
    raise UnsupportedGraph(
        "node '%s': op '%s'%s is not supported by the torch peer (it runs conv2d,"
        " depthwise_conv2d, conv2d_transpose, bias_add, batch_norm, activation %s, max_pool,"
        " avg_pool, resize_bilinear with half-pixel centers or align_corners, concat, softmax)"
        % (node["name"], op, " kind '%s'" % node["kind"] if "kind" in node else "",
           sorted(Activation.KINDS)))


class IrNet(nn.Module):
    """The exported graph; forward(x NCHW) returns the logits node (N,K,H,W)."""

    def __init__(self, model_dir):
        super().__init__()
        path = os.path.join(model_dir, "graph.json")
        with open(path) as f:
            g = json.load(f)
        if g.get("format") != FORMAT:
            raise UnsupportedGraph("%s: format %r, expected %r" % (path, g.get("format"), FORMAT))

        def load(name):
            if name is None:
                return None
            return torch.from_numpy(np.load(os.path.join(model_dir, name)).astype(np.float32))

        self.input_name = g["input"]["name"]
        self.output_name = g["logits"]
        self.order = []  # (node name, module key, input names)
        self.layers = nn.ModuleDict()
        self.by_name = {}
        for node in g["nodes"]:
            key = "n%03d" % len(self.order)
            module = _build(node, load)
            self.layers[key] = module
            self.by_name[node["name"]] = module
            self.order.append((node["name"], key, node["inputs"]))
        if self.output_name not in self.by_name:
            raise UnsupportedGraph("%s: logits node '%s' is not among the nodes"
                                   % (path, self.output_name))
        # liveness: after step i, drop the values no later step reads (autograd keeps its own)
        last = {}
        for i, (_, _, inputs) in enumerate(self.order):
            for n in inputs:
                last[n] = i
        self.free_after = [
            [n for n in dict.fromkeys(inputs) if last[n] == i and n != self.output_name]
            for i, (_, _, inputs) in enumerate(self.order)]

    def layer(self, name):
        """The module whose output is node `name` (a Grad-CAM target layer)."""
        if name not in self.by_name:
            raise UnsupportedGraph("no node '%s' in the export (nodes: %s)"
                                   % (name, ", ".join(n for n, _, _ in self.order)))
        return self.by_name[name]

    def forward(self, x):
        values = {self.input_name: x}
        for (name, key, inputs), dead in zip(self.order, self.free_after):
            values[name] = self.layers[key](*[values[i] for i in inputs])
            for n in dead:
                del values[n]
        return values[self.output_name]
