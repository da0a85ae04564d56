package dev.segcam.backend.cpu;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackwardPlan;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.backend.cpu.grad.ElementwiseGrad;
import dev.segcam.backend.cpu.grad.PoolGrad;
import dev.segcam.backend.cpu.grad.ShapeGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Data-gradient backward pass of an IR graph on the CPU: from seeded nodes (dL/d node output) down
 * to the deepest requested layer and no further. Never computes weight gradients.
 *
 * <p>Only nodes on a path from some requested layer to some seeded node are visited, in reverse
 * topological order; a node read by several consumers (skip connections) sums their gradients.
 *
 * <p>K targets share one forward pass: the seeds may have batch B = K·N while the forward values
 * have batch N. Gradient item b then belongs to image b % N (the values tiled K times along the
 * batch, target-major: b = k·N + n), and every returned gradient has batch B.
 *
 * <p>Semantics follow TensorFlow's C++ gradient registry (what Graph.addGradients runs): Relu's
 * gradient is 0 at x == 0, MaxPool routes to the first maximum of a window in row-major order,
 * AvgPool divides by the count of real pixels, ResizeBilinear scatters with the forward weights.
 */
public final class CpuBackward {
  /** -Dsegcam.backward.profile=true prints each node's backward time to stderr. */
  private static final boolean PROFILE = Boolean.getBoolean("segcam.backward.profile");

  /**
   * Conv2D layers with fewer input channels than this take the channel-major GEMM kernel (long
   * vectors over pixels); wider ones the pixel-major kernel that skips zero gradients (measured
   * break-even on AVX2 at 128 channels with half the gradient zero).
   */
  static final int CHANNEL_MAJOR_BELOW = 128;

  /** Stands in for a null pool: one thread runs every loop inline and owns no threads. */
  private static final Parallel CALLER_THREAD = new Parallel(1);

  private CpuBackward() {}

  /** Single-threaded backward; see {@link #backward(Graph, Map, Map, Collection, Parallel)}. */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> seeds,
      Collection<String> layers) {
    return backward(g, values, seeds, layers, null);
  }

  /**
   * Gradients of sum(seed · node) over all seeds with respect to each requested layer.
   *
   * @param values forward values of (at least) every node on a path from a layer to a seed and of
   *     their inputs, batch N
   * @param seeds node name -> dL/d(node output), batch K·N
   * @param layers node names whose gradients to return
   * @param pool threads to run on (e.g. {@link CpuEngine#parallel()}), or null for the caller's
   * @return layer name -> dL/d(layer output), batch K·N, in the order of {@code layers}
   * @throws NotDifferentiableException if a layer does not affect any seeded node
   */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> seeds,
      Collection<String> layers,
      Parallel pool) {
    if (layers == null || layers.isEmpty()) {
      throw new SegcamException("backward: no layers requested");
    }
    if (seeds == null || seeds.isEmpty()) {
      throw new SegcamException("backward: no seeds (output gradients) given");
    }
    return new Pass(g, values, seeds, pool == null ? CALLER_THREAD : pool).run(layers);
  }

  /** One backward run: the state shared by the per-op gradient rules. */
  private static final class Pass {
    private final Graph g;
    private final Map<String, FloatTensor> values;
    private final Map<String, FloatTensor> seeds;
    private final Parallel pool;
    private final List<Node> nodes;
    private final Map<String, Integer> index = new HashMap<>();
    private final FloatTensor[] grad;
    private final boolean[] owned;
    private int batch = -1;
    private boolean[] isLayer;
    private boolean[] visit;

    Pass(Graph g, Map<String, FloatTensor> values, Map<String, FloatTensor> seeds, Parallel pool) {
      this.g = g;
      this.values = values;
      this.seeds = seeds;
      this.pool = pool;
      this.nodes = g.nodes();
      for (int i = 0; i < nodes.size(); i++) {
        index.put(nodes.get(i).name(), i);
      }
      this.grad = new FloatTensor[nodes.size()];
      this.owned = new boolean[nodes.size()];
    }

    Map<String, FloatTensor> run(Collection<String> layers) {
      int n = nodes.size();
      isLayer = new boolean[n];
      for (String l : layers) {
        isLayer[index(l)] = true;
      }
      for (Map.Entry<String, FloatTensor> e : seeds.entrySet()) {
        checkSeed(nodes.get(index(e.getKey())), e.getValue());
      }
      visit = BackwardPlan.onPath(g, index, seeds.keySet(), layers);
      for (Map.Entry<String, FloatTensor> e : seeds.entrySet()) {
        int i = index.get(e.getKey());
        if (visit[i]) {
          accumulate(i, e.getValue(), false);
        }
      }
      for (int i = n - 1; i >= 0; i--) {
        if (!visit[i] || grad[i] == null) {
          continue;
        }
        Node node = nodes.get(i);
        List<String> ins = node.inputs();
        boolean[] want = new boolean[ins.size()];
        boolean any = false;
        for (int k = 0; k < ins.size(); k++) {
          want[k] = visit[index.get(ins.get(k))];
          any |= want[k];
        }
        if (any) {
          FloatTensor[] dx;
          long t0 = PROFILE ? System.nanoTime() : 0;
          try {
            dx = inputGradients(node, grad[i], want);
          } catch (ShapeException e) {
            throw new ShapeException(
                "backward through node '"
                    + node.name()
                    + "' ("
                    + node.op().type()
                    + "): "
                    + e.getMessage());
          }
          for (int k = 0; k < ins.size(); k++) {
            if (want[k] && dx[k] != null) {
              accumulate(index.get(ins.get(k)), dx[k], owns(dx[k], grad[i]));
            }
          }
          if (PROFILE) {
            System.err.printf(
                "backward %-24s %-16s %s %8.2f ms%n",
                node.name(), node.op().type(), grad[i].shape(), (System.nanoTime() - t0) / 1e6);
          }
        }
        if (!isLayer[i]) {
          grad[i] = null;
        }
      }
      Map<String, FloatTensor> out = new LinkedHashMap<>();
      for (String l : layers) {
        FloatTensor t = grad[index.get(l)];
        out.put(l, owned[index.get(l)] ? t : t.copy());
      }
      return out;
    }

    private static boolean owns(FloatTensor dx, FloatTensor dy) {
      return dx.data() != dy.data();
    }

    private int index(String name) {
      Integer i = index.get(name);
      if (i == null) {
        g.node(name); // throws UnknownNodeException with suggestions
      }
      return i;
    }

    private void checkSeed(Node node, FloatTensor seed) {
      Shape s = seed.shape();
      if (s.rank() == 0) {
        throw new ShapeException("seed for '" + node.name() + "' has no batch axis: " + s);
      }
      if (batch < 0) {
        batch = s.dim(0);
      } else if (s.dim(0) != batch) {
        throw new ShapeException(
            "seeds differ in batch: " + batch + " vs " + s.dim(0) + " for '" + node.name() + "'");
      }
      FloatTensor v = values.get(node.name());
      Shape ref = v != null ? v.shape() : node.shape();
      boolean ok = ref.rank() == s.rank();
      for (int d = 1; ok && d < s.rank(); d++) {
        ok = ref.dim(d) == Shape.UNKNOWN || ref.dim(d) == s.dim(d);
      }
      if (ok && v != null) {
        ok = v.shape().dim(0) > 0 && s.dim(0) % v.shape().dim(0) == 0;
      }
      if (!ok) {
        throw new ShapeException(
            "seed for '"
                + node.name()
                + "' has shape "
                + s
                + ", node value is "
                + ref
                + " (seed batch must be a multiple of the value batch)");
      }
    }

    private void accumulate(int i, FloatTensor dx, boolean isOwned) {
      Node node = nodes.get(i);
      FloatTensor v = values.get(node.name());
      if (v != null && !sameButBatch(v.shape(), dx.shape())) {
        throw new ShapeException(
            "gradient for '"
                + node.name()
                + "' has shape "
                + dx.shape()
                + " but its value is "
                + v.shape());
      }
      FloatTensor cur = grad[i];
      if (cur == null) {
        grad[i] = dx;
        owned[i] = isOwned;
        return;
      }
      if (!cur.shape().equals(dx.shape())) {
        throw new ShapeException(
            "gradients reaching '"
                + node.name()
                + "' differ in shape: "
                + cur.shape()
                + " vs "
                + dx.shape());
      }
      if (!owned[i]) {
        cur = cur.copy();
        grad[i] = cur;
        owned[i] = true;
      }
      float[] a = cur.data();
      float[] b = dx.data();
      for (int k = 0; k < a.length; k++) {
        a[k] += b[k];
      }
    }

    private static boolean sameButBatch(Shape v, Shape gShape) {
      if (v.rank() != gShape.rank()) {
        return false;
      }
      for (int d = 1; d < v.rank(); d++) {
        if (v.dim(d) != gShape.dim(d)) {
          return false;
        }
      }
      return true;
    }

    private FloatTensor value(String name, Node reader) {
      FloatTensor v = values.get(name);
      if (v != null) {
        return v;
      }
      Node n = g.node(name);
      if (n.op() instanceof Op.Const c) {
        return c.value();
      }
      throw new SegcamException(
          "backward through '"
              + reader.name()
              + "' ("
              + reader.op().type()
              + ") needs the forward value of node '"
              + name
              + "', which was not given");
    }

    /**
     * Shape of a node's value: from the given value, a Const, or else the declared shape when all
     * but the batch are known (leading dim may then be unknown). Lets the backward run through ops
     * that only need their inputs' shapes without the caller keeping those values.
     */
    private Shape shapeOf(String name, Node reader) {
      FloatTensor v = values.get(name);
      if (v != null) {
        return v.shape();
      }
      Node n = g.node(name);
      if (n.op() instanceof Op.Const c) {
        return c.value().shape();
      }
      Shape s = n.shape();
      boolean known = s.rank() > 0;
      for (int d = 1; known && d < s.rank(); d++) {
        known = s.dim(d) != Shape.UNKNOWN;
      }
      if (known) {
        return s;
      }
      return value(name, reader).shape(); // throws, naming what is missing
    }

    /** Shape of an input's gradient: its forward value's shape with the gradient batch. */
    private Shape gradShape(String input, Node reader, int b) {
      return shapeOf(input, reader).withDim(0, b);
    }

    private FloatTensor[] inputGradients(Node node, FloatTensor dyT, boolean[] want) {
      Op op = node.op();
      FloatTensor[] dx = new FloatTensor[node.inputs().size()];
      float[] dy = dyT.data();
      Shape ds = dyT.shape();
      int b = ds.dim(0);
      String in0 = node.inputs().isEmpty() ? null : node.inputs().get(0);
      if (op instanceof Op.Conv2D c) {
        Shape xs = gradShape(in0, node, b);
        Shape f = c.filter().shape();
        ConvGrad.Geometry geo =
            geometry(
                c.padding(),
                xs,
                f.dim(0),
                f.dim(1),
                c.strideH(),
                c.strideW(),
                c.dilationH(),
                c.dilationW(),
                ds);
        int[] keep = neededChannels(in0, f.dim(2));
        float[] filter = keep == null ? c.filter().data() : inputChannels(c.filter(), keep);
        int cin = keep == null ? f.dim(2) : keep.length;
        boolean unitStride = c.strideH() == 1 && c.strideW() == 1;
        float[] d =
            unitStride && cin < CHANNEL_MAJOR_BELOW
                ? CpuBackwardConv.conv2dData(
                    pool, dy, b, ds.dim(1), ds.dim(2), filter, cin, f.dim(3), xs.dim(1), xs.dim(2),
                    geo)
                : ConvGrad.conv2dDataPixelMajor(
                    dy, b, ds.dim(1), ds.dim(2), filter, cin, f.dim(3), xs.dim(1), xs.dim(2), geo,
                    pool);
        dx[0] = new FloatTensor(xs, keep == null ? d : scatterChannels(d, keep, f.dim(2)));
      } else if (op instanceof Op.DepthwiseConv2D c) {
        Shape xs = gradShape(in0, node, b);
        Shape f = c.filter().shape();
        ConvGrad.Geometry geo =
            geometry(
                c.padding(),
                xs,
                f.dim(0),
                f.dim(1),
                c.strideH(),
                c.strideW(),
                c.dilationH(),
                c.dilationW(),
                ds);
        dx[0] =
            new FloatTensor(
                xs,
                ConvGrad.depthwiseData(
                    dy,
                    b,
                    ds.dim(1),
                    ds.dim(2),
                    c.filter().data(),
                    f.dim(2),
                    f.dim(3),
                    xs.dim(1),
                    xs.dim(2),
                    geo,
                    pool));
      } else if (op instanceof Op.Conv2DTranspose c) {
        Shape xs = gradShape(in0, node, b);
        Shape f = c.filter().shape(); // (KH,KW,F,C): dy has F channels, x has C
        // x is the output of a Conv2D over dy's grid, so dx is exactly that Conv2D of dy
        geometry(c.padding(), ds, f.dim(0), f.dim(1), c.strideH(), c.strideW(), 1, 1, xs);
        Op.Conv2D forward =
            new Op.Conv2D(c.filter(), null, c.strideH(), c.strideW(), 1, 1, c.padding());
        dx[0] = CpuOps.conv2d(pool, dyT, forward);
      } else if (op instanceof Op.BiasAdd) {
        dx[0] = dyT;
      } else if (op instanceof Op.BatchNorm bn) {
        dx[0] = new FloatTensor(ds, ElementwiseGrad.scaleChannels(dy, bn.scale().data(), pool));
      } else if (op instanceof Op.Activation a) {
        float[] x = null;
        float[] y = null;
        if (ElementwiseGrad.readsInput(a.kind())) {
          x = tiledValue(in0, node, dyT).data();
        } else {
          y = tiledValue(node.name(), node, dyT).data();
        }
        dx[0] =
            new FloatTensor(ds, ElementwiseGrad.activation(a.kind(), a.alpha(), dy, x, y, pool));
      } else if (op instanceof Op.Softmax) {
        FloatTensor y = tiledValue(node.name(), node, dyT);
        dx[0] = new FloatTensor(ds, ElementwiseGrad.softmax(dy, y.data(), ds.dim(-1), pool));
      } else if (op instanceof Op.Pool p) {
        Shape xs = gradShape(in0, node, b);
        ConvGrad.Geometry geo =
            geometry(p.padding(), xs, p.windowH(), p.windowW(), p.strideH(), p.strideW(), 1, 1, ds);
        float[] d;
        if (p.kind() == Op.PoolKind.MAX) {
          FloatTensor x = value(in0, node);
          if (x.shape().dim(0) == 0 || b % x.shape().dim(0) != 0) {
            throw new ShapeException(
                "value of '" + in0 + "' " + x.shape() + " does not tile gradient batch " + b);
          }
          d =
              PoolGrad.maxPoolData(
                  x.data(),
                  x.shape().dim(0),
                  xs.dim(1),
                  xs.dim(2),
                  xs.dim(3),
                  dy,
                  b,
                  ds.dim(1),
                  ds.dim(2),
                  geo,
                  pool);
        } else {
          d =
              PoolGrad.avgPoolData(
                  dy, b, ds.dim(1), ds.dim(2), xs.dim(3), xs.dim(1), xs.dim(2), geo, pool);
        }
        dx[0] = new FloatTensor(xs, d);
      } else if (op instanceof Op.SpatialMean) {
        Shape xs = gradShape(in0, node, b);
        dx[0] =
            new FloatTensor(
                xs, PoolGrad.spatialMeanData(dy, b, xs.dim(1), xs.dim(2), xs.dim(3), pool));
      } else if (op instanceof Op.Resize r) {
        Shape xs = gradShape(in0, node, b);
        float[] d =
            r.mode() == Op.ResizeMode.BILINEAR
                ? PoolGrad.bilinearData(
                    dy,
                    b,
                    ds.dim(1),
                    ds.dim(2),
                    ds.dim(3),
                    xs.dim(1),
                    xs.dim(2),
                    r.alignCorners(),
                    r.halfPixelCenters(),
                    pool)
                : PoolGrad.nearestData(
                    dy,
                    b,
                    ds.dim(1),
                    ds.dim(2),
                    ds.dim(3),
                    xs.dim(1),
                    xs.dim(2),
                    r.alignCorners(),
                    r.halfPixelCenters(),
                    pool);
        dx[0] = new FloatTensor(xs, d);
      } else if (op instanceof Op.Concat c) {
        if (c.axis() == 0) {
          throw new NotDifferentiableException(
              "node '"
                  + node.name()
                  + "': Concat along the batch axis is not supported in"
                  + " backward");
        }
        int[] sizes = new int[dx.length];
        for (int k = 0; k < dx.length; k++) {
          sizes[k] = shapeOf(node.inputs().get(k), node).dim(c.axis());
        }
        float[][] parts = ShapeGrad.concatData(dy, ds.dims(), c.axis(), sizes);
        for (int k = 0; k < dx.length; k++) {
          if (want[k]) {
            dx[k] = new FloatTensor(gradShape(node.inputs().get(k), node, b), parts[k]);
          }
        }
      } else if (op instanceof Op.Binary bin) {
        binary(node, bin, dyT, want, dx);
      } else if (op instanceof Op.Pad p) {
        Shape xs = gradShape(in0, node, b);
        int[] before = new int[xs.rank()];
        for (int d = 0; d < before.length; d++) {
          before[d] = p.paddings().get(d)[0];
        }
        if (before[0] != 0 || p.paddings().get(0)[1] != 0) {
          throw new NotDifferentiableException(
              "node '" + node.name() + "': Pad along the batch axis is not supported in backward");
        }
        dx[0] = new FloatTensor(xs, ShapeGrad.padData(dy, ds.dims(), xs.dims(), before));
      } else if (op instanceof Op.MatMul m) {
        Shape w = m.weights().shape();
        dx[0] =
            new FloatTensor(
                Shape.of(b, w.dim(0)),
                ElementwiseGrad.matMulData(dy, b, m.weights().data(), w.dim(0), w.dim(1), pool));
      } else if (op instanceof Op.Reshape) {
        dx[0] = dyT.reshape(gradShape(in0, node, b));
      } else if (op instanceof Op.Input || op instanceof Op.Const) {
        // leaves: nothing below
      } else {
        throw new NotDifferentiableException(
            "no data gradient for op " + op.type() + " (node '" + node.name() + "')");
      }
      return dx;
    }

    /**
     * When a conv reads a channel Concat of which only some inputs need gradients (a decoder conv
     * over [upsampled, encoder skip] when the layer is the bottleneck), the channels of the other
     * inputs are never read: returns the channels that are (ascending), or null for all. Only when
     * the Concat's own gradient is not returned, since the others are left zero.
     */
    private int[] neededChannels(String input, int channels) {
      int ci = index.get(input);
      Node cat = nodes.get(ci);
      if (!(cat.op() instanceof Op.Concat cc)
          || isLayer[ci]
          || seeds.containsKey(input)
          || cc.axis() != cat.shape().rank() - 1) {
        return null;
      }
      int[] keep = new int[channels];
      int n = 0;
      int at = 0;
      for (String in : cat.inputs()) {
        Shape s = shapeOf(in, cat);
        int size = s.dim(s.rank() - 1);
        if (visit[index.get(in)]) {
          for (int q = 0; q < size && n < channels; q++) {
            keep[n++] = at + q;
          }
        }
        at += size;
      }
      return n == 0 || n == channels || at != channels ? null : java.util.Arrays.copyOf(keep, n);
    }

    /** filter (KH,KW,C,F) -> (KH,KW,keep.length,F) with only the kept input channels. */
    private static float[] inputChannels(FloatTensor filter, int[] keep) {
      Shape s = filter.shape();
      int taps = s.dim(0) * s.dim(1);
      int c = s.dim(2);
      int f = s.dim(3);
      float[] src = filter.data();
      float[] out = new float[taps * keep.length * f];
      for (int t = 0; t < taps; t++) {
        for (int q = 0; q < keep.length; q++) {
          System.arraycopy(src, (t * c + keep[q]) * f, out, (t * keep.length + q) * f, f);
        }
      }
      return out;
    }

    /** (P, keep.length) -> (P, channels) with zeros in the channels not kept. */
    private float[] scatterChannels(float[] d, int[] keep, int channels) {
      int k = keep.length;
      int pixels = d.length / k;
      float[] out = new float[pixels * channels];
      pool.parallelFor(
          pixels,
          1,
          (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
              for (int q = 0; q < k; q++) {
                out[p * channels + keep[q]] = d[p * k + q];
              }
            }
          });
      return out;
    }

    /** The forward value, checked to tile the gradient's batch. */
    private FloatTensor tiledValue(String name, Node reader, FloatTensor dy) {
      FloatTensor v = value(name, reader);
      int n = v.shape().dim(0);
      if (!sameButBatch(v.shape(), dy.shape()) || n == 0 || dy.shape().dim(0) % n != 0) {
        throw new ShapeException(
            "value of '" + name + "' " + v.shape() + " does not tile gradient " + dy.shape());
      }
      return v;
    }

    private void binary(
        Node node, Op.Binary bin, FloatTensor dyT, boolean[] want, FloatTensor[] dx) {
      String an = node.inputs().get(0);
      String bn = node.inputs().get(1);
      boolean needsValues = bin.kind() == Op.BinaryKind.MUL || bin.kind() == Op.BinaryKind.DIV;
      FloatTensor a = needsValues ? value(an, node) : null;
      FloatTensor bv = needsValues ? value(bn, node) : null;
      Shape[] vs = {
        a != null ? a.shape() : shapeOf(an, node), bv != null ? bv.shape() : shapeOf(bn, node)
      };
      Shape ds = dyT.shape();
      int r = ds.rank();
      // the forward batch N: the operands' largest known leading dim among full-rank operands
      int n = -1;
      for (Shape v : vs) {
        if (v.rank() == r && v.dim(0) != Shape.UNKNOWN) {
          n = Math.max(n, v.dim(0));
        }
      }
      if (n > 0 && ds.dim(0) % n != 0) {
        throw new ShapeException(
            "gradient batch " + ds.dim(0) + " is not a multiple of the forward batch " + n);
      }
      int k = n > 0 ? ds.dim(0) / n : 1;
      for (int side = 0; side < 2; side++) {
        if (!want[side]) {
          continue;
        }
        String name = side == 0 ? an : bn;
        Shape v = vs[side];
        boolean batched =
            !(g.node(name).op() instanceof Op.Const)
                && v.rank() == r
                && (v.dim(0) == Shape.UNKNOWN || v.dim(0) == n || n < 0);
        Shape gs = batched ? v.withDim(0, ds.dim(0)) : v;
        if (!batched && k > 1) {
          throw new NotDifferentiableException(
              "node '"
                  + node.name()
                  + "': operand '"
                  + name
                  + "' "
                  + v
                  + " is broadcast over the batch, so batched targets would mix in its gradient");
        }
        float[] d =
            ShapeGrad.binaryData(
                bin.kind(),
                side == 0,
                dyT.data(),
                ds.dims(),
                a == null ? null : a.data(),
                a == null ? null : a.shape().dims(),
                bv == null ? null : bv.data(),
                bv == null ? null : bv.shape().dims(),
                gs.dims(),
                pool);
        dx[side] = new FloatTensor(gs, d);
      }
    }

    /**
     * Window geometry with TensorFlow's SAME/VALID top-left padding, checked against the grid the
     * window produced. in (·,H,W,·) is the window's input grid, out (·,OH,OW,·) its output.
     */
    private static ConvGrad.Geometry geometry(
        Padding pad, Shape in, int kh, int kw, int sh, int sw, int dh, int dw, Shape out) {
      int h = in.dim(1);
      int w = in.dim(2);
      if (pad.outputSize(h, kh, sh, dh) != out.dim(1)
          || pad.outputSize(w, kw, sw, dw) != out.dim(2)) {
        throw new ShapeException(
            "window "
                + kh
                + "x"
                + kw
                + " stride "
                + sh
                + "x"
                + sw
                + " "
                + pad
                + " maps "
                + in
                + " to "
                + pad.outputSize(h, kh, sh, dh)
                + "x"
                + pad.outputSize(w, kw, sw, dw)
                + ", not to the gradient's "
                + out);
      }
      return new ConvGrad.Geometry(
          kh, kw, sh, sw, dh, dw, pad.before(h, kh, sh, dh), pad.before(w, kw, sw, dw));
    }
  }
}
