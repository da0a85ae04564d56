package dev.segcam.cam;

import dev.segcam.backend.SparseSeed;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import java.util.Collection;
import java.util.Map;

/**
 * The first backward steps of a {@link SparseSeed} on host values: from the seeded node down
 * through the model's head while the factored form lasts — a BiasAdd (identity), a Softmax (a
 * one-hot seed of the probabilities becomes the softmax form on the logits), a 1x1 stride-1 Conv2D
 * (the classifier: its input gradient is formed row by row from the scored class's filter column) —
 * so that the dense (N*K,oh,ow,C) seed over all classes is never made. It stops at a requested
 * layer (whose gradient is then the seed itself) and at any other op, where the seed is made dense
 * and the ordinary backward takes over.
 *
 * <p>Moving a seed from a node S to its only input X is exact: S depends on nothing else (its
 * weights are constants), so dS/dX·seed is all the gradient that seed sends to X and below.
 */
final class SeedHead {
  private SeedHead() {}

  /** A seed moved to {@code node}: dense, a new array owned by the caller. */
  record Moved(String node, FloatTensor seed) {}

  static Moved move(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, dev.segcam.ir.Shape> shapes,
      String node,
      SparseSeed seed,
      Collection<String> layers,
      SparseSeed.Loop loop) {
    String at = node;
    SparseSeed cur = seed;
    while (!layers.contains(at)) {
      Node n = g.node(at);
      if (n.inputs().size() != 1) {
        break;
      }
      String in = n.inputs().get(0);
      Op op = n.op();
      if (op instanceof Op.BiasAdd) {
        at = in;
      } else if (op instanceof Op.Softmax && cur.oneHot() && values.get(at) != null) {
        cur = cur.throughSoftmax(values.get(at));
        at = in;
      } else if (op instanceof Op.Conv2D c
          && pointwise(c)
          && cur.shape().rank() == 4
          && (values.get(in) != null || shapes.containsKey(in))) {
        return new Moved(in, cur.throughConv1x1(c.filter(), loop));
      } else {
        break;
      }
    }
    return new Moved(at, cur.toHost());
  }

  /** A 1x1 stride-1 convolution: its input gradient at a pixel reads only that pixel's seed. */
  private static boolean pointwise(Op.Conv2D c) {
    var f = c.filter().shape();
    return f.rank() == 4 && f.dim(0) == 1 && f.dim(1) == 1 && c.strideH() == 1 && c.strideW() == 1;
  }
}
