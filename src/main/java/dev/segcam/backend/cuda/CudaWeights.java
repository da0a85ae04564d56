package dev.segcam.backend.cuda;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.HashMap;
import java.util.Map;

/**
 * The CUDA backend's weights: uploaded once, when the backend is built, in the layouts the kernels
 * and libraries read (cuDNN's KRSC filters, row-major dense weights, per-channel vectors).
 */
final class CudaWeights implements AutoCloseable {
  private final DeviceArena arena;
  private final Map<String, Params> params = new HashMap<>();

  /** Device copies of a node's weights (null where the op has none). */
  static final class Params {
    DeviceBuffer filter; // cuDNN KRSC layout
    DeviceBuffer bias;
    DeviceBuffer scale;
    DeviceBuffer offset;
    DeviceBuffer weights; // MatMul (I,O) row-major
    CudaTensor constant;

    void close() {
      for (DeviceBuffer b : new DeviceBuffer[] {filter, bias, scale, offset, weights}) {
        if (b != null) {
          b.close();
        }
      }
      if (constant != null) {
        constant.close();
      }
    }
  }

  private CudaWeights(DeviceArena arena) {
    this.arena = arena;
  }

  /** Uploads every node's weights; on failure what was uploaded is freed. */
  static CudaWeights upload(Graph graph, CudaCamBackend owner, DeviceArena arena) {
    CudaWeights w = new CudaWeights(arena);
    try {
      w.upload(graph, owner);
      return w;
    } catch (RuntimeException | Error e) {
      w.close();
      throw e;
    }
  }

  /** A node's weights (fields null where the op has none). */
  Params of(String node) {
    return params.get(node);
  }

  private DeviceBuffer up(float[] host) {
    return arena.upload(host);
  }

  private DeviceBuffer upOrNull(FloatTensor t) {
    return t == null ? null : up(t.data());
  }

  private void upload(Graph graph, CudaCamBackend owner) {
    for (Node n : graph.nodes()) {
      Op op = n.op();
      Params p = new Params();
      params.put(n.name(), p);
      if (op instanceof Op.Conv2D c) {
        p.filter = up(krsc(op));
        p.bias = upOrNull(c.bias());
      } else if (op instanceof Op.DepthwiseConv2D c) {
        p.filter = up(krsc(op));
        p.bias = upOrNull(c.bias());
      } else if (op instanceof Op.Conv2DTranspose c) {
        p.filter = up(krsc(op));
        p.bias = upOrNull(c.bias());
      } else if (op instanceof Op.BiasAdd b) {
        p.bias = up(b.bias().data());
      } else if (op instanceof Op.BatchNorm b) {
        p.scale = up(b.scale().data());
        p.offset = up(b.offset().data());
      } else if (op instanceof Op.MatMul m) {
        p.weights = up(m.weights().data());
        p.bias = upOrNull(m.bias());
      } else if (op instanceof Op.Const c) {
        p.constant = new CudaTensor(owner, up(c.value().data()), c.value().shape());
      }
    }
  }

  /**
   * A conv-like op's filter in cuDNN's KRSC layout (F,KH,KW,C/groups) for the convolution {@link
   * CudaConvolution#convGeom} describes: Conv2D (KH,KW,C,F) as is; depthwise (KH,KW,C,M) read as
   * (KH,KW,1,C·M); transposed (KH,KW,F,C) is the HWIO filter of the conv from its F-channel output
   * grid to its C-channel input.
   */
  static float[] krsc(Op op) {
    if (op instanceof Op.Conv2D c) {
      Shape f = c.filter().shape();
      return CudnnConv.filterToKrsc(c.filter().data(), f.dim(0), f.dim(1), f.dim(2), f.dim(3));
    }
    if (op instanceof Op.DepthwiseConv2D c) {
      Shape f = c.filter().shape();
      return CudnnConv.filterToKrsc(c.filter().data(), f.dim(0), f.dim(1), 1, f.dim(2) * f.dim(3));
    }
    if (op instanceof Op.Conv2DTranspose c) {
      Shape f = c.filter().shape();
      return CudnnConv.filterToKrsc(c.filter().data(), f.dim(0), f.dim(1), f.dim(2), f.dim(3));
    }
    throw new IllegalArgumentException("not a convolution: " + op.type());
  }

  @Override
  public void close() {
    for (Params p : params.values()) {
      p.close();
    }
    params.clear();
  }
}
