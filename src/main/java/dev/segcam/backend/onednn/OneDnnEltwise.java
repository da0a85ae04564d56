package dev.segcam.backend.onednn;

import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import org.bytedeco.dnnl.eltwise_backward;
import org.bytedeco.dnnl.eltwise_forward;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;

/**
 * The IR's activations on oneDNN's eltwise primitive, over a flat array of n values.
 *
 * <pre>
 * Relu       eltwise_relu (alpha 0)          LeakyRelu  eltwise_relu (alpha = slope)
 * Relu6      eltwise_clip_v2 (0, 6)          Elu        eltwise_elu_use_dst_for_bwd (alpha 1)
 * Sigmoid    eltwise_logistic_use_dst_for_bwd Tanh      eltwise_tanh_use_dst_for_bwd
 * </pre>
 *
 * The backward reads what the Java engine's ElementwiseGrad reads ({@link
 * Op.Activation#gradReads}): the output y, except the input x for a LeakyRelu with a negative
 * slope.
 */
public final class OneDnnEltwise extends OneDnnPrimitive {
  private final int n;
  private final boolean backward;
  private final int valueArg;

  private OneDnnEltwise(OneDnnContext ctx, ActivationKind kind, float alpha, int n, boolean bwd) {
    super(ctx, "eltwise " + kind + (bwd ? " bwd" : " fwd") + " n=" + n);
    this.n = n;
    this.backward = bwd;
    dnnl.algorithm alg = algorithm(kind, alpha);
    float a = alpha(kind, alpha);
    float b = beta(kind);
    memory.desc d = own(Descs.rowMajor(n));
    eltwise_forward.primitive_desc fwd =
        make(
            "forward descriptor",
            () ->
                new eltwise_forward.primitive_desc(
                    ctx.engine(), dnnl.prop_kind.forward_training, alg, d, d, a, b));
    boolean readsDst = readsOutput(kind, alpha);
    valueArg = readsDst ? dnnl.DNNL_ARG_DST : dnnl.DNNL_ARG_SRC;
    if (buildForward(bwd, fwd, () -> new eltwise_forward(fwd), d, d)) {
      return;
    }
    buildBackward(
        () -> new eltwise_backward.primitive_desc(ctx.engine(), alg, d, d, d, a, b, fwd),
        pd -> new eltwise_backward(pd),
        d,
        d);
    bind(valueArg, d);
  }

  /**
   * The algorithm of a forward with a backward: the _use_dst_for_bwd ones read y, as {@link
   * Op.Activation#gradReads} says (the ReLU family too, where the slope is at least 0).
   */
  static dnnl.algorithm algorithm(ActivationKind kind, float alpha) {
    if (!readsOutput(kind, alpha)) {
      return forwardAlgorithm(kind);
    }
    return switch (kind) {
      case RELU, LEAKY_RELU -> dnnl.algorithm.eltwise_relu_use_dst_for_bwd;
      case RELU6 -> dnnl.algorithm.eltwise_clip_v2_use_dst_for_bwd;
      case ELU -> dnnl.algorithm.eltwise_elu_use_dst_for_bwd;
      case SIGMOID -> dnnl.algorithm.eltwise_logistic_use_dst_for_bwd;
      case TANH -> dnnl.algorithm.eltwise_tanh_use_dst_for_bwd;
    };
  }

  /** The forward-only algorithm (post-ops take no _use_dst_for_bwd variants). */
  static dnnl.algorithm forwardAlgorithm(ActivationKind kind) {
    return switch (kind) {
      case RELU, LEAKY_RELU -> dnnl.algorithm.eltwise_relu;
      case RELU6 -> dnnl.algorithm.eltwise_clip_v2;
      case ELU -> dnnl.algorithm.eltwise_elu;
      case SIGMOID -> dnnl.algorithm.eltwise_logistic;
      case TANH -> dnnl.algorithm.eltwise_tanh;
    };
  }

  static float beta(ActivationKind kind) {
    return kind == ActivationKind.RELU6 ? 6f : 0f;
  }

  static float alpha(ActivationKind kind, float alpha) {
    return switch (kind) {
      case LEAKY_RELU -> alpha;
      case ELU -> 1f;
      default -> 0f;
    };
  }

  /** Whether the backward reads the forward's output y (else its input x). */
  public static boolean readsOutput(ActivationKind kind, float alpha) {
    return new Op.Activation(kind, alpha).gradReads() == Op.GradReads.OUTPUT;
  }

  private record Key(ActivationKind kind, float alpha, int n, boolean backward) {}

  /** Activation forward over n values. */
  public static OneDnnEltwise forward(OneDnnContext ctx, ActivationKind kind, float alpha, int n) {
    return ctx.cached(
        new Key(kind, alpha, n, false),
        OneDnnEltwise.class,
        () -> new OneDnnEltwise(ctx, kind, alpha, n, false));
  }

  /** Activation data gradient over n values. */
  public static OneDnnEltwise backward(OneDnnContext ctx, ActivationKind kind, float alpha, int n) {
    return ctx.cached(
        new Key(kind, alpha, n, true),
        OneDnnEltwise.class,
        () -> new OneDnnEltwise(ctx, kind, alpha, n, true));
  }

  /** Forward x -> y. */
  public float[] run(float[] x) {
    direction(backward, false, "eltwise run(x)");
    return exec(dnnl.DNNL_ARG_DST, n, new int[] {dnnl.DNNL_ARG_SRC}, x);
  }

  /** Backward: dy and the value it reads (y when {@link #readsOutput}, else x) -> dx. */
  public float[] run(float[] dy, float[] xOrY) {
    direction(backward, true, "eltwise run(dy, xOrY)");
    return exec(dnnl.DNNL_ARG_DIFF_SRC, n, new int[] {dnnl.DNNL_ARG_DIFF_DST, valueArg}, dy, xOrY);
  }
}
