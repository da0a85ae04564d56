package dev.segcam.backend.cuda;

import dev.segcam.backend.Scope;
import dev.segcam.ir.Node;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import java.util.List;
import java.util.Map;

/** What a rule of {@link CudaOpTable} receives: one node's forward or backward step. */
final class CudaStep {
  private CudaStep() {}

  /** What both directions receive: the backend, the node, its weights and the step's scope. */
  abstract static class Step {
    final CudaCamBackend be;
    final CudaGraphOps ops;
    final Node node;
    final CudaWeights.Params p;
    final Scope scope;

    Step(CudaCamBackend be, Node node, CudaWeights.Params p, Scope scope) {
      this.be = be;
      this.ops = be.graphOps();
      this.node = node;
      this.p = p;
      this.scope = scope;
    }
  }

  /** One node's forward: its inputs, output shape, weights, and the output once allocated. */
  static final class Fwd extends Step {
    final List<CudaTensor> in;
    final Shape out;
    CudaTensor y;

    Fwd(
        CudaCamBackend be,
        Node node,
        CudaWeights.Params p,
        List<CudaTensor> in,
        Shape out,
        Scope scope) {
      super(be, node, p, scope);
      this.in = in;
      this.out = out;
    }

    /** The output, allocated on first use in the step's scope (freed if the rule throws). */
    CudaTensor y() {
      if (y == null) {
        y = scope.own(be.alloc(out));
      }
      return y;
    }

    DeviceBuffer x() {
      return in.get(0).buffer();
    }

    Shape xs() {
      return in.get(0).shape();
    }

    int total() {
      return out.size();
    }

    /** y = kernel(x, total, extra...): a pointwise kernel of kernels/&lt;module&gt;.cu. */
    CudaTensor pointwise(String module, String kernel, Object... extra) {
      ops.launchIn(module, kernel, total(), KernelArgs.flat(y().buffer(), x(), total(), extra));
      return y;
    }
  }

  /** One node's backward: dy (batch b = K·N), the forward values, and the gradients it fills. */
  static final class Bwd extends Step {
    final Map<String, CudaTensor> values;
    final CudaTensor dy;
    final Shape ds;
    final int b;
    final String in0;
    final boolean[] want;
    final CudaTensor[] dx;

    /** Whether the ReLUs take guided backpropagation's rule (set by the pass). */
    boolean guided;

    Bwd(
        CudaCamBackend be,
        Node node,
        CudaWeights.Params p,
        Map<String, CudaTensor> values,
        CudaTensor dy,
        boolean[] want,
        Scope scope) {
      super(be, node, p, scope);
      this.values = values;
      this.dy = dy;
      this.ds = dy.shape();
      this.b = ds.dim(0);
      this.in0 = node.inputs().isEmpty() ? null : node.inputs().get(0);
      this.want = want;
      this.dx = new CudaTensor[node.inputs().size()];
    }

    /**
     * Input 0's gradient from a pointwise gradient kernel (dx, dy, v, total, valueTotal, extra...)
     * that reads the forward value v (tiled over the K targets).
     */
    void pointwiseGrad(String module, String kernel, CudaTensor v, Object... extra) {
      DeviceBuffer g = alloc(0, ds);
      Object[] args = KernelArgs.flat(g, dy.buffer(), v.buffer(), ds.size(), v.size(), extra);
      ops.launchIn(module, kernel, ds.size(), args);
    }

    CudaTensor value(String name) {
      return values.get(name);
    }

    /** The shape of input k's gradient: its value's shape with the gradient batch. */
    Shape gradShape(int k) {
      return value(node.inputs().get(k)).shape().withDim(0, b);
    }

    /** Allocates input k's gradient in the step's scope. */
    DeviceBuffer alloc(int k, Shape s) {
      dx[k] = scope.own(be.alloc(s));
      return dx[k].buffer();
    }

    /** Sets input k's gradient to a reference (a retained dy, a view), owned by the scope. */
    void set(int k, CudaTensor t) {
      dx[k] = scope.own(t);
    }

    ConvGeometry convGeom() {
      return CudaConvolution.convGeom(node, value(in0).shape(), value(node.name()).shape())
          .withBatch(b);
    }
  }
}
