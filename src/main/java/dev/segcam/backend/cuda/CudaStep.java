package dev.segcam.backend.cuda;

import dev.segcam.backend.ConvGeometry;
import dev.segcam.backend.Scope;
import dev.segcam.ir.Node;
import dev.segcam.ir.Shape;
import java.util.List;

/** What a rule of {@link CudaOpTable} receives: one node's forward or backward step. */
final class CudaStep {
  private CudaStep() {}

  /** One node's forward: its inputs, output shape, weights, and the output once allocated. */
  static final class Fwd {
    final CudaCamBackend be;
    final CudaGraphOps ops;
    final Node node;
    final CudaWeights.Params p;
    final List<CudaTensor> in;
    final Shape out;
    final Scope scope;
    CudaTensor y;

    Fwd(
        CudaCamBackend be,
        Node node,
        CudaWeights.Params p,
        List<CudaTensor> in,
        Shape out,
        Scope scope) {
      this.be = be;
      this.scope = scope;
      this.ops = be.graphOps();
      this.node = node;
      this.p = p;
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
  }

  /** One node's backward: dy (batch b = K·N), the forward values, and the gradients it fills. */
  static final class Bwd {
    final CudaCamBackend be;
    final CudaGraphOps ops;
    final Node node;
    final CudaWeights.Params p;
    final java.util.Map<String, CudaTensor> values;
    final CudaTensor dy;
    final Shape ds;
    final int b;
    final String in0;
    final boolean[] want;
    final CudaTensor[] dx;
    final Scope scope;

    /** Whether the ReLUs take guided backpropagation's rule (set by the pass). */
    boolean guided;

    Bwd(
        CudaCamBackend be,
        Node node,
        CudaWeights.Params p,
        java.util.Map<String, CudaTensor> values,
        CudaTensor dy,
        boolean[] want,
        Scope scope) {
      this.be = be;
      this.scope = scope;
      this.ops = be.graphOps();
      this.node = node;
      this.p = p;
      this.values = values;
      this.dy = dy;
      this.ds = dy.shape();
      this.b = ds.dim(0);
      this.in0 = node.inputs().isEmpty() ? null : node.inputs().get(0);
      this.want = want;
      this.dx = new CudaTensor[node.inputs().size()];
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
