package dev.segcam.backend.onednn;

import static dev.segcam.backend.onednn.Descs.any;
import static dev.segcam.backend.onednn.Descs.dilations;
import static dev.segcam.backend.onednn.Descs.nhwc;
import static dev.segcam.backend.onednn.Descs.padAfter;
import static dev.segcam.backend.onednn.Descs.padBefore;
import static dev.segcam.backend.onednn.Descs.strided;
import static dev.segcam.backend.onednn.Descs.strides;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.CpuConv;
import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.deconvolution_forward;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.primitive_desc_base;

/**
 * Convolutions on oneDNN: forward, data gradient, and transposed (TensorFlow's Conv2DTranspose is
 * oneDNN's deconvolution; its data gradient is the plain forward conv). Activations are NHWC at the
 * edges; weights are reordered once into the blocked layout the implementation asks for.
 *
 * <pre>
 * kind          input                 output                weights (TensorFlow layout)
 * FORWARD       x  (N,H,W,C)          y  (N,OH,OW,F)        HWIO (KH,KW,C/G,F) or depthwise (KH,KW,C,M)
 * BACKWARD_DATA dy (N,OH,OW,F)        dx (N,H,W,C)          same as FORWARD
 * TRANSPOSED    x  (N,OH,OW,F)        y  (N,H,W,C)          Conv2DTranspose's (KH,KW,C,F)
 * </pre>
 *
 * The geometry is always that of the forward convolution (H,W,C) -> (OH,OW,F).
 */
public final class OneDnnConv extends OneDnnPrimitive {
  /** Which direction runs. */
  public enum Kind {
    FORWARD,
    BACKWARD_DATA,
    TRANSPOSED
  }

  /** How the filter array is laid out (TensorFlow's conventions). */
  public enum FilterLayout {
    /** (KH,KW,C/G,F); with groups, output o belongs to group o / (F/G). */
    HWIO,
    /** DepthwiseConv2dNative's (KH,KW,C,M); output c*M+m reads input c (G = C). */
    DEPTHWISE
  }

  private final Kind kind;
  private final ConvGeometry g;
  private final int inArg;
  private final int outArg;

  /**
   * Plans the primitive. bias (F, or C for TRANSPOSED) may be null; it is not used by
   * BACKWARD_DATA. fused (may be null) is an activation applied to the FORWARD or TRANSPOSED output
   * inside the primitive (a oneDNN eltwise post-op: conv + bias + activation in one pass over the
   * output). Only for a forward whose pre-activation value nobody reads (the activation's gradient
   * must then read its output: ReLU's can, as y &gt; 0 exactly where x &gt; 0).
   *
   * @throws OneDnnUnsupportedException when oneDNN cannot express the geometry
   */
  public OneDnnConv(
      OneDnnContext ctx,
      Kind kind,
      ConvGeometry g,
      FilterLayout layout,
      float[] filter,
      float[] bias,
      Op.Activation fused) {
    super(ctx, "conv " + kind + " " + g + (fused == null ? "" : " + " + fused.type()));
    if (fused != null && kind == Kind.BACKWARD_DATA) {
      throw new IllegalArgumentException("a fused activation needs a forward kind, not " + kind);
    }
    this.kind = kind;
    this.g = g;
    String why = g.unsupportedReason();
    if (why != null) {
      throw new OneDnnUnsupportedException("oneDNN conv " + kind + " " + g + ": " + why);
    }
    if (layout == FilterLayout.DEPTHWISE && g.groups() != g.c()) {
      throw new IllegalArgumentException("depthwise filter needs groups == C: " + g);
    }
    memory.desc big = own(nhwc(g.n(), g.h(), g.w(), g.c()));
    memory.desc small = own(nhwc(g.n(), g.oh(), g.ow(), g.f()));
    memory.desc wAny = own(any(weightDims(g, kind)));
    memory.desc wUser = own(userWeights(g, kind, layout));
    // a zero descriptor is oneDNN's "no bias"
    boolean withBias = bias != null && kind != Kind.BACKWARD_DATA;
    memory.desc b =
        own(withBias ? Descs.rowMajor(kind == Kind.TRANSPOSED ? g.c() : g.f()) : new memory.desc());
    primitive_desc_base pd;
    switch (kind) {
      case FORWARD -> {
        convolution_forward.primitive_desc fwd = forwardPd(g, big, wAny, b, small, postOps(fused));
        build(fwd, () -> new convolution_forward(fwd));
        pd = fwd;
      }
      case BACKWARD_DATA -> {
        convolution_forward.primitive_desc hint =
            own(forwardPd(g, big, wAny, b, small, own(new primitive_attr())));
        convolution_backward_data.primitive_desc bwd =
            make(
                "backward-data descriptor",
                () ->
                    new convolution_backward_data.primitive_desc(
                        ctx.engine(),
                        convolution_direct,
                        big,
                        wAny,
                        small,
                        strides(g),
                        dilations(g),
                        padBefore(g),
                        padAfter(g),
                        hint));
        build(bwd, () -> new convolution_backward_data(bwd));
        pd = bwd;
      }
      default -> {
        deconvolution_forward.primitive_desc de =
            make(
                "deconvolution descriptor",
                () ->
                    new deconvolution_forward.primitive_desc(
                        ctx.engine(),
                        dnnl.prop_kind.forward_inference,
                        dnnl.algorithm.deconvolution_direct,
                        small,
                        wAny,
                        b,
                        big,
                        strides(g),
                        dilations(g),
                        padBefore(g),
                        padAfter(g),
                        postOps(fused),
                        false));
        build(de, () -> new deconvolution_forward(de));
        pd = de;
      }
    }
    boolean data = kind == Kind.BACKWARD_DATA;
    inArg = data ? dnnl.DNNL_ARG_DIFF_DST : dnnl.DNNL_ARG_SRC;
    outArg = data ? dnnl.DNNL_ARG_DIFF_SRC : dnnl.DNNL_ARG_DST;
    bind(inArg, data ? pd.diff_dst_desc() : pd.src_desc());
    bind(outArg, data ? pd.diff_src_desc() : pd.dst_desc());
    constant(dnnl.DNNL_ARG_WEIGHTS, wUser, pd.weights_desc(), filter);
    if (withBias) {
      constant(dnnl.DNNL_ARG_BIAS, b, pd.weights_desc(1), bias);
    }
  }

  private static final dnnl.algorithm convolution_direct = dnnl.algorithm.convolution_direct;

  // the attributes of a forward: the fused activation (null: none) as an eltwise post-op
  private primitive_attr postOps(Op.Activation fused) {
    primitive_attr attr = own(new primitive_attr());
    if (fused != null) {
      post_ops ops = own(new post_ops());
      ops.append_eltwise(
          OneDnnEltwise.forwardAlgorithm(fused.kind()),
          OneDnnEltwise.alpha(fused.kind(), fused.alpha()),
          OneDnnEltwise.beta(fused.kind()));
      attr.set_post_ops(ops);
    }
    return attr;
  }

  private convolution_forward.primitive_desc forwardPd(
      ConvGeometry g,
      memory.desc src,
      memory.desc w,
      memory.desc b,
      memory.desc dst,
      primitive_attr attr) {
    return make(
        "forward descriptor",
        () ->
            new convolution_forward.primitive_desc(
                ctx.engine(),
                dnnl.prop_kind.forward_training,
                convolution_direct,
                src,
                w,
                b,
                dst,
                strides(g),
                dilations(g),
                padBefore(g),
                padAfter(g),
                attr,
                false));
  }

  // oneDNN's logical weight dims: conv (O,I,KH,KW) or grouped (G,O/G,I/G,KH,KW); deconvolution
  // swaps the roles: its O is the conv's I (C) and its I the conv's O (F).
  private static long[] weightDims(ConvGeometry g, Kind kind) {
    int gr = g.groups();
    int o = kind == Kind.TRANSPOSED ? g.c() : g.f();
    int i = kind == Kind.TRANSPOSED ? g.f() : g.c();
    return gr == 1
        ? new long[] {o, i, g.kh(), g.kw()}
        : new long[] {gr, o / gr, i / gr, g.kh(), g.kw()};
  }

  // The TensorFlow filter array described by strides over those logical dims.
  private memory.desc userWeights(ConvGeometry g, Kind kind, FilterLayout layout) {
    int kw = g.kw();
    int gr = g.groups();
    if (kind == Kind.TRANSPOSED) {
      if (gr != 1) {
        throw new OneDnnUnsupportedException("grouped transposed convolution: " + g);
      }
      // Conv2DTranspose filter (KH,KW,C,F): deconv O = C (stride F), I = F (stride 1)
      long c = g.c();
      long f = g.f();
      return strided(weightDims(g, kind), new long[] {f, 1, kw * c * f, c * f});
    }
    if (layout == FilterLayout.DEPTHWISE && gr > 1) { // with one channel it is HWIO
      // (KH,KW,C,M) is oneDNN's hwigo with I = 1: group c, then o = m fastest
      return own(new memory.desc(weightDims(g, kind), Descs.F32, memory.format_tag.hwigo));
    }
    long ig = g.c() / gr;
    long f = g.f();
    if (gr == 1) {
      return strided(weightDims(g, kind), new long[] {1, f, kw * ig * f, ig * f});
    }
    long og = f / gr;
    return strided(weightDims(g, kind), new long[] {og, 1, f, kw * ig * f, ig * f});
  }

  /** Runs on input (see the class table) into out; returns out. */
  public float[] run(float[] in, float[] out) {
    write(inArg, in);
    execute();
    read(outArg, out);
    return out;
  }

  /** Runs on input into a new array. */
  public float[] run(float[] in) {
    return run(in, Arena.floats(outputSize()));
  }

  /** Values in this direction's output. */
  public int outputSize() {
    return kind == Kind.FORWARD ? g.n() * g.oh() * g.ow() * g.f() : g.n() * g.h() * g.w() * g.c();
  }

  public ConvGeometry geometry() {
    return g;
  }

  public Kind kind() {
    return kind;
  }

  // ---------------------------------------------------------------- from IR ops, cached per shape

  private record Key(Object op, Kind kind, Shape x, Op.Activation fused) {
    Key(Object op, Kind kind, Shape x) {
      this(op, kind, x, null);
    }
  }

  /** Conv2D forward for input shape x (N,H,W,C). */
  public static OneDnnConv conv2d(OneDnnContext ctx, Op.Conv2D op, Shape x) {
    return conv2d(ctx, op, x, null);
  }

  /** Conv2D forward followed by the activation act (null: none), fused into one primitive. */
  public static OneDnnConv conv2d(OneDnnContext ctx, Op.Conv2D op, Shape x, Op.Activation act) {
    return ctx.cached(
        new Key(op, Kind.FORWARD, x, act),
        OneDnnConv.class,
        () -> of(ctx, Kind.FORWARD, op.filter(), op.bias(), conv2dGeometry(op, x), act));
  }

  /** Conv2D data gradient dy -> dx for forward input shape x. */
  public static OneDnnConv conv2dData(OneDnnContext ctx, Op.Conv2D op, Shape x) {
    return ctx.cached(
        new Key(op, Kind.BACKWARD_DATA, x),
        OneDnnConv.class,
        () -> of(ctx, Kind.BACKWARD_DATA, op.filter(), null, conv2dGeometry(op, x)));
  }

  /** A Conv2D whose data gradient is wanted for the kept input channels only. */
  private record KeptChannels(Op.Conv2D op, List<Integer> keep) {}

  /**
   * Conv2D data gradient dy -&gt; dx (N,H,W,keep.length) for the kept input channels of the forward
   * input x (N,H,W,C) only: the filter sliced once, at plan time ({@link ConvGrad#inputChannels}),
   * so the work shrinks by keep.length / C.
   */
  public static OneDnnConv conv2dData(OneDnnContext ctx, Op.Conv2D op, Shape x, int[] keep) {
    Shape f = op.filter().shape();
    return ctx.cached(
        new Key(new KeptChannels(op, Arrays.stream(keep).boxed().toList()), Kind.BACKWARD_DATA, x),
        OneDnnConv.class,
        () ->
            of(
                ctx,
                Kind.BACKWARD_DATA,
                new FloatTensor(
                    f.withDim(2, keep.length), ConvGrad.inputChannels(op.filter(), keep)),
                null,
                conv2dGeometry(op, x.withDim(3, keep.length))));
  }

  /** DepthwiseConv2dNative forward for input shape x. */
  public static OneDnnConv depthwise(OneDnnContext ctx, Op.DepthwiseConv2D op, Shape x) {
    return depthwise(ctx, op, x, null);
  }

  /** DepthwiseConv2dNative forward followed by act (null: none), fused into one primitive. */
  public static OneDnnConv depthwise(
      OneDnnContext ctx, Op.DepthwiseConv2D op, Shape x, Op.Activation act) {
    return ctx.cached(
        new Key(op, Kind.FORWARD, x, act),
        OneDnnConv.class,
        () -> depthwiseOf(ctx, Kind.FORWARD, op, x, act));
  }

  /** DepthwiseConv2dNative data gradient for forward input shape x. */
  public static OneDnnConv depthwiseData(OneDnnContext ctx, Op.DepthwiseConv2D op, Shape x) {
    return ctx.cached(
        new Key(op, Kind.BACKWARD_DATA, x),
        OneDnnConv.class,
        () -> depthwiseOf(ctx, Kind.BACKWARD_DATA, op, x, null));
  }

  /** Conv2DTranspose forward for input shape x (N,H,W,C) -> (N,outH,outW,F). */
  public static OneDnnConv transpose(OneDnnContext ctx, Op.Conv2DTranspose op, Shape x) {
    return transpose(ctx, op, x, null);
  }

  /** Conv2DTranspose forward followed by act (null: none), fused into one primitive. */
  public static OneDnnConv transpose(
      OneDnnContext ctx, Op.Conv2DTranspose op, Shape x, Op.Activation act) {
    return ctx.cached(
        new Key(op, Kind.TRANSPOSED, x, act),
        OneDnnConv.class,
        () -> of(ctx, Kind.TRANSPOSED, op.filter(), op.bias(), transposeGeometry(op, x), act));
  }

  /** Conv2DTranspose data gradient (a plain convolution) for forward input shape x. */
  public static OneDnnConv transposeData(OneDnnContext ctx, Op.Conv2DTranspose op, Shape x) {
    return ctx.cached(
        new Key(op, Kind.FORWARD, x),
        OneDnnConv.class,
        () -> of(ctx, Kind.FORWARD, op.filter(), null, transposeGeometry(op, x)));
  }

  private static OneDnnConv of(
      OneDnnContext ctx, Kind kind, FloatTensor filter, FloatTensor bias, ConvGeometry g) {
    return of(ctx, kind, filter, bias, g, null);
  }

  private static OneDnnConv of(
      OneDnnContext ctx,
      Kind kind,
      FloatTensor filter,
      FloatTensor bias,
      ConvGeometry g,
      Op.Activation act) {
    return new OneDnnConv(
        ctx, kind, g, FilterLayout.HWIO, filter.data(), bias == null ? null : bias.data(), act);
  }

  private static OneDnnConv depthwiseOf(
      OneDnnContext ctx, Kind kind, Op.DepthwiseConv2D op, Shape x, Op.Activation act) {
    float[] bias = kind == Kind.FORWARD && op.bias() != null ? op.bias().data() : null;
    ConvGeometry g = ConvGeometry.ofConv(op, x);
    return new OneDnnConv(ctx, kind, g, FilterLayout.DEPTHWISE, op.filter().data(), bias, act);
  }

  static ConvGeometry conv2dGeometry(Op.Conv2D op, Shape x) {
    return ConvGeometry.ofConv(op, x);
  }

  // The forward conv behind Conv2DTranspose: its input is the transposed op's output (N,OH,OW,F),
  // its output the transposed op's input x; TensorFlow pads as that forward conv would.
  static ConvGeometry transposeGeometry(Op.Conv2DTranspose op, Shape x) {
    return ConvGeometry.ofTransposed(op, x, CpuConv.conv2dTransposeShape(x, op));
  }
}
