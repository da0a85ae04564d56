package dev.segcam.ir;

import java.util.List;

/**
 * The operations of the IR. Tensors are float32, images NHWC. Weights live inside the op that uses
 * them (folded at import), so a node's inputs are only activations (or {@link Const} nodes for the
 * constant operand of a {@link Binary}). Every op has one output.
 *
 * <p>Each record documents its inputs and the layout of its weights.
 */
public sealed interface Op {

  /** Short display name, e.g. "Conv2D". */
  default String type() {
    return getClass().getSimpleName();
  }

  /** Number of weight values held by the op (for {@code segcam layers}). */
  default long parameterCount() {
    return 0;
  }

  /**
   * Which forward value the op's data gradient reads besides dy: nothing (only the inputs' shapes),
   * the first input's value, or the op's own output. Backends keep those values for the backward.
   */
  enum GradReads {
    NOTHING,
    INPUT,
    OUTPUT
  }

  /** What this op's data gradient reads (see {@link GradReads}). */
  default GradReads gradReads() {
    return GradReads.NOTHING;
  }

  /**
   * True for element-wise ops: each output element depends only on the input element at the same
   * index (Binary: at the broadcast index), so the op keeps its input's shape and layout.
   */
  default boolean pointwise() {
    return false;
  }

  /**
   * True for a classifier head that turns logits into probabilities (Softmax, Sigmoid): when a
   * model ends in one, LOGITS scores are taken on its input.
   */
  default boolean probabilityHead() {
    return false;
  }

  /** The constant of {@code values} whose kernel code is {@code code}. */
  private static <E> E byCode(
      E[] values, java.util.function.ToIntFunction<E> codeOf, int code, String what) {
    for (E k : values) {
      if (codeOf.applyAsInt(k) == code) {
        return k;
      }
    }
    throw new IllegalArgumentException("no " + what + " with kernel code " + code);
  }

  /** A graph input (placeholder). Unknown dims are -1. No inputs. */
  record Input(Shape shape) implements Op {}

  /** A constant tensor. No inputs. */
  record Const(FloatTensor value) implements Op {
    @Override
    public long parameterCount() {
      return value.size();
    }
  }

  /** A dilated, strided window over (N,H,W,C) with a (KH,KW,...) filter: Conv2D and depthwise. */
  interface Windowed {
    FloatTensor filter();

    int strideH();

    int strideW();

    int dilationH();

    int dilationW();

    Padding padding();
  }

  /**
   * 2-D convolution. Input x (N,H,W,C). filter (KH,KW,C,F). bias (F) or null, added after the
   * convolution (bias fusion and BatchNorm folding land here).
   */
  record Conv2D(
      FloatTensor filter,
      FloatTensor bias,
      int strideH,
      int strideW,
      int dilationH,
      int dilationW,
      Padding padding)
      implements Op, Windowed {
    @Override
    public long parameterCount() {
      return filter.size() + (bias == null ? 0 : bias.size());
    }
  }

  /**
   * Depthwise convolution (DepthwiseConv2dNative). Input x (N,H,W,C). filter (KH,KW,C,M); output
   * channel c*M+m. bias (C*M) or null.
   */
  record DepthwiseConv2D(
      FloatTensor filter,
      FloatTensor bias,
      int strideH,
      int strideW,
      int dilationH,
      int dilationW,
      Padding padding)
      implements Op, Windowed {
    @Override
    public long parameterCount() {
      return filter.size() + (bias == null ? 0 : bias.size());
    }
  }

  /**
   * Transposed convolution (Conv2DBackpropInput): the data gradient of a Conv2D whose input would
   * have shape (N,outH,outW,F). Input x (N,H,W,C). filter (KH,KW,F,C) as TensorFlow stores it.
   * outH/outW are the requested output size, or -1 to derive them from the input size at run time
   * (H*stride for SAME, (H-1)*stride+KH for VALID). bias (F) or null.
   */
  record Conv2DTranspose(
      FloatTensor filter,
      FloatTensor bias,
      int strideH,
      int strideW,
      Padding padding,
      int outH,
      int outW)
      implements Op {
    @Override
    public long parameterCount() {
      return filter.size() + (bias == null ? 0 : bias.size());
    }
  }

  /** Adds bias (C) along the last axis. */
  record BiasAdd(FloatTensor bias) implements Op {
    @Override
    public long parameterCount() {
      return bias.size();
    }

    @Override
    public boolean pointwise() {
      return true;
    }
  }

  /** Inference batch norm, pre-folded: y = x * scale + offset along the last axis. */
  record BatchNorm(FloatTensor scale, FloatTensor offset) implements Op {
    @Override
    public long parameterCount() {
      return scale.size() + offset.size();
    }

    @Override
    public boolean pointwise() {
      return true;
    }
  }

  /**
   * Activation kinds with their kernel codes: {@link #code} is the {@code kind} argument of
   * activation_fwd/activation_bwd in the CUDA kernels and their Java twins (ACT_* in the .cu
   * sources; written here once, never an ordinal). {@link #gradReads} follows TensorFlow's gradient
   * registry: ReluGrad, Relu6Grad and LeakyReluGrad read the input, EluGrad, SigmoidGrad and
   * TanhGrad the output.
   */
  enum ActivationKind {
    RELU(0, "Relu", GradReads.INPUT),
    RELU6(1, "Relu6", GradReads.INPUT),
    LEAKY_RELU(2, "LeakyRelu", GradReads.INPUT),
    ELU(3, "Elu", GradReads.OUTPUT),
    SIGMOID(4, "Sigmoid", GradReads.OUTPUT),
    TANH(5, "Tanh", GradReads.OUTPUT);

    /** The kernel code (ACT_* in the .cu sources). */
    public final int code;

    /** TensorFlow's op name. */
    public final String tfName;

    /** What the gradient reads. */
    public final GradReads gradReads;

    ActivationKind(int code, String tfName, GradReads gradReads) {
      this.code = code;
      this.tfName = tfName;
      this.gradReads = gradReads;
    }

    /** The kind with this kernel code. */
    public static ActivationKind ofCode(int code) {
      return byCode(values(), k -> k.code, code, "activation");
    }
  }

  /** Element-wise activation; alpha is LeakyRelu's slope (unused otherwise). */
  record Activation(ActivationKind kind, float alpha) implements Op {
    @Override
    public String type() {
      return kind.tfName;
    }

    /**
     * What segcam's backends read for this activation's gradient: TensorFlow's choice ({@link
     * ActivationKind#gradReads}), except that the ReLU family (Relu, Relu6, LeakyRelu with a slope
     * of at least 0) reads its output: their gradients only ask which side of 0 (and 6) the input
     * was on, and y keeps that exactly (y &gt; 0 iff x &gt; 0, 0 &lt; y &lt; 6 iff 0 &lt; x &lt;
     * 6), so the result is the same bit for bit, and a convolution fused with its ReLU need not
     * keep its pre-activation value for the backward.
     */
    @Override
    public GradReads gradReads() {
      boolean reluFamily =
          kind == ActivationKind.RELU
              || kind == ActivationKind.RELU6
              || (kind == ActivationKind.LEAKY_RELU && alpha >= 0f);
      return reluFamily ? GradReads.OUTPUT : kind.gradReads;
    }

    @Override
    public boolean pointwise() {
      return true;
    }

    @Override
    public boolean probabilityHead() {
      return kind == ActivationKind.SIGMOID;
    }
  }

  /** Softmax over the last axis. */
  record Softmax() implements Op {
    @Override
    public GradReads gradReads() {
      return GradReads.OUTPUT;
    }

    @Override
    public boolean probabilityHead() {
      return true;
    }
  }

  /**
   * TensorFlow's LogSoftmax over the last axis: x − max − log Σ exp(x − max). Its gradient dy −
   * exp(y)·Σ dy reads the output.
   */
  record LogSoftmax() implements Op {
    @Override
    public GradReads gradReads() {
      return GradReads.OUTPUT;
    }
  }

  /** Element-wise e^x (TensorFlow's Exp); its gradient dy·e^x reads the output. */
  record Exp() implements Op {
    @Override
    public GradReads gradReads() {
      return GradReads.OUTPUT;
    }

    @Override
    public boolean pointwise() {
      return true;
    }
  }

  enum PoolKind {
    MAX,
    AVG
  }

  /**
   * Max or average pooling over H,W of (N,H,W,C). AVG excludes padding from the divisor, as
   * TensorFlow does.
   */
  record Pool(PoolKind kind, int windowH, int windowW, int strideH, int strideW, Padding padding)
      implements Op {
    @Override
    public String type() {
      return kind == PoolKind.MAX ? "MaxPool" : "AvgPool";
    }

    /** MaxPool routes dy to each window's first maximum, so it reads its input. */
    @Override
    public GradReads gradReads() {
      return kind == PoolKind.MAX ? GradReads.INPUT : GradReads.NOTHING;
    }
  }

  /** Mean over H and W of (N,H,W,C): (N,1,1,C) with keepDims, else (N,C). */
  record SpatialMean(boolean keepDims) implements Op {}

  enum ResizeMode {
    BILINEAR,
    NEAREST
  }

  /**
   * Resize (N,H,W,C) to (N,outH,outW,C) with TensorFlow's ResizeBilinear / ResizeNearestNeighbor
   * coordinate rules (alignCorners, halfPixelCenters).
   */
  record Resize(ResizeMode mode, int outH, int outW, boolean alignCorners, boolean halfPixelCenters)
      implements Op {}

  /** Concatenation of all inputs along axis (non-negative, in the output's rank). */
  record Concat(int axis) implements Op {}

  /**
   * Binary kinds with their kernel codes ({@link #code} is the {@code kind} argument of
   * binary_fwd/binary_bwd, BIN_* in the .cu sources). Mul, Div, Maximum, Minimum and
   * SquaredDifference read both operands' values in their gradients; Add and Sub only their shapes.
   */
  enum BinaryKind {
    ADD(0, "Add", false),
    SUB(1, "Sub", false),
    MUL(2, "Mul", true),
    DIV(3, "Div", true),
    MAXIMUM(4, "Maximum", true),
    MINIMUM(5, "Minimum", true),
    SQUARED_DIFFERENCE(6, "SquaredDifference", true);

    /** The kernel code (BIN_* in the .cu sources). */
    public final int code;

    /** TensorFlow's op name (the IR's display name). */
    public final String tfName;

    /** Whether the gradient reads the operands' values (not only their shapes). */
    public final boolean gradReadsValues;

    BinaryKind(int code, String tfName, boolean gradReadsValues) {
      this.code = code;
      this.tfName = tfName;
      this.gradReadsValues = gradReadsValues;
    }

    /** The kind with this kernel code. */
    public static BinaryKind ofCode(int code) {
      return byCode(values(), k -> k.code, code, "binary op");
    }
  }

  /** Element-wise a (op) b with NumPy broadcasting. Inputs: a, b (either may be a Const node). */
  record Binary(BinaryKind kind) implements Op {
    @Override
    public String type() {
      return kind.tfName;
    }

    @Override
    public GradReads gradReads() {
      return kind.gradReadsValues ? GradReads.INPUT : GradReads.NOTHING;
    }

    @Override
    public boolean pointwise() {
      return true;
    }
  }

  /**
   * Constant padding: paddings[d] = {before, after} for every axis d of the input's rank (the batch
   * axis is always {0,0}).
   */
  record Pad(List<int[]> paddings, float value) implements Op {}

  /**
   * Dense layer on the last axis: (N,...,I) x weights (I,O) [+ bias (O)] -> (N,...,O) (Keras Dense
   * on tokens (N,L,C) is this at rank 3).
   */
  record MatMul(FloatTensor weights, FloatTensor bias) implements Op {
    @Override
    public long parameterCount() {
      return weights.size() + (bias == null ? 0 : bias.size());
    }
  }

  /**
   * The batched product of two activations (TensorFlow's BatchMatMulV2, a MatMul of two
   * activations, the Einsum contractions of attention): a (..., M, K), or (..., K, M) when adjA,
   * times b (..., K, N), or (..., N, K) when adjB, -> (..., M, N). Both inputs have the same rank
   * (at least 3: the batch, then any leading dims) and equal leading dims. The gradients read both
   * operands.
   */
  record BatchMatMul(boolean adjA, boolean adjB) implements Op {
    @Override
    public GradReads gradReads() {
      return GradReads.INPUT;
    }
  }

  /**
   * Reshape keeping the batch: target gives every dimension but the first (the batch is carried
   * through); at most one of them may be -1 (inferred). Covers Flatten, Squeeze, ExpandDims.
   */
  record Reshape(Shape target) implements Op {}

  /**
   * Unary element-wise kinds with their kernel codes ({@link #code} is the {@code kind} argument of
   * unary_fwd/unary_bwd, UN_* in kernels/unary.cu and {@code UnaryKernels}). {@link #gradReads}
   * follows TensorFlow's gradient registry (SqrtGrad, RsqrtGrad, SeluGrad read the output).
   */
  enum UnaryKind {
    NEG(0, "Neg", GradReads.NOTHING),
    ABS(1, "Abs", GradReads.INPUT),
    SQUARE(2, "Square", GradReads.INPUT),
    SQRT(3, "Sqrt", GradReads.OUTPUT),
    RSQRT(4, "Rsqrt", GradReads.OUTPUT),
    LOG(5, "Log", GradReads.INPUT),
    POW(6, "Pow", GradReads.INPUT),
    SELU(7, "Selu", GradReads.OUTPUT),
    SOFTPLUS(8, "Softplus", GradReads.INPUT),
    ERF(9, "Erf", GradReads.INPUT);

    /** The kernel code (UN_* in kernels/unary.cu). */
    public final int code;

    /** TensorFlow's op name. */
    public final String tfName;

    /** What the gradient reads. */
    public final GradReads gradReads;

    UnaryKind(int code, String tfName, GradReads gradReads) {
      this.code = code;
      this.tfName = tfName;
      this.gradReads = gradReads;
    }

    /** The kind with this kernel code. */
    public static UnaryKind ofCode(int code) {
      return byCode(values(), k -> k.code, code, "unary op");
    }
  }

  /**
   * Element-wise math on one activation (see {@link UnaryKind}); param is Pow's constant exponent
   * (unused otherwise).
   */
  record Unary(UnaryKind kind, float param) implements Op {
    @Override
    public String type() {
      return kind.tfName;
    }

    @Override
    public GradReads gradReads() {
      return kind.gradReads;
    }

    @Override
    public boolean pointwise() {
      return true;
    }
  }

  /**
   * TensorFlow's StopGradient (prevent false) and PreventGradient (prevent true): the identity
   * forward. StopGradient's data gradient is zero (TensorFlow registers no gradient, so nothing
   * flows back); PreventGradient's backward is an error, as in TensorFlow.
   */
  record StopGradient(boolean prevent) implements Op {
    @Override
    public String type() {
      return prevent ? "PreventGradient" : "StopGradient";
    }

    @Override
    public boolean pointwise() {
      return true;
    }
  }

  /**
   * TensorFlow's StridedSlice (and Slice) on an activation, with the ellipsis and new-axis masks
   * already expanded at import: one entry per input axis d of begin, end, strides (never 0), and
   * bit d of beginMask / endMask (ignore begin / end: the whole range in the stride's direction)
   * and shrinkMask (take the single element at begin, drop the axis). newAxes are the output
   * positions where a unit axis is inserted (ascending). Negative begin/end count from the end. The
   * batch axis 0 is always taken whole (the importer refuses anything else). Geometry: {@link
   * Slicing}.
   */
  record StridedSlice(
      int[] begin,
      int[] end,
      int[] strides,
      int beginMask,
      int endMask,
      int shrinkMask,
      int[] newAxes)
      implements Op {
    @Override
    public boolean equals(Object o) {
      return o instanceof StridedSlice s
          && java.util.Arrays.equals(begin, s.begin)
          && java.util.Arrays.equals(end, s.end)
          && java.util.Arrays.equals(strides, s.strides)
          && beginMask == s.beginMask
          && endMask == s.endMask
          && shrinkMask == s.shrinkMask
          && java.util.Arrays.equals(newAxes, s.newAxes);
    }

    @Override
    public int hashCode() {
      return java.util.Objects.hash(
          java.util.Arrays.hashCode(begin),
          java.util.Arrays.hashCode(end),
          java.util.Arrays.hashCode(strides),
          beginMask,
          endMask,
          shrinkMask,
          java.util.Arrays.hashCode(newAxes));
    }

    @Override
    public String toString() {
      return "StridedSlice[begin="
          + java.util.Arrays.toString(begin)
          + ", end="
          + java.util.Arrays.toString(end)
          + ", strides="
          + java.util.Arrays.toString(strides)
          + ", beginMask="
          + beginMask
          + ", endMask="
          + endMask
          + ", shrinkMask="
          + shrinkMask
          + ", newAxes="
          + java.util.Arrays.toString(newAxes)
          + "]";
    }
  }

  /**
   * Reduction kinds with their kernel codes ({@link #code} is the {@code kind} argument of
   * reduce_fwd/reduce_bwd, RED_* in kernels/reduce.cu). MAX and MIN take reduce_extreme_bwd.
   */
  enum ReduceKind {
    SUM(0, "Sum"),
    MEAN(1, "Mean"),
    MAX(2, "Max"),
    MIN(3, "Min");

    /** The kernel code (RED_* in kernels/reduce.cu). */
    public final int code;

    /** TensorFlow's op name (the IR's display name). */
    public final String tfName;

    ReduceKind(int code, String tfName) {
      this.code = code;
      this.tfName = tfName;
    }

    /** Max and Min: the gradient goes to the extreme elements (TensorFlow's MinOrMaxGrad). */
    public boolean extreme() {
      return this == MAX || this == MIN;
    }
  }

  /**
   * TensorFlow's Sum / Mean / Max / Min over the axes of axesMask (bit d: axis d of the input;
   * never the batch axis 0), keeping them as unit axes when keepDims. Mean over H,W of NHWC imports
   * as {@link SpatialMean}. The gradients of Sum and Mean read only the shapes; those of Max and
   * Min read the input and the output (dy shared equally among the elements equal to the extreme,
   * as TensorFlow's MinOrMaxGrad).
   */
  record Reduce(ReduceKind kind, int axesMask, boolean keepDims) implements Op {
    @Override
    public String type() {
      return kind.tfName;
    }

    @Override
    public GradReads gradReads() {
      return kind.extreme() ? GradReads.INPUT : GradReads.NOTHING;
    }
  }

  /**
   * TensorFlow's Transpose of an activation: output axis d is input axis perm[d]; perm[0] is 0 (the
   * batch stays first).
   */
  record Transpose(List<Integer> perm) implements Op {}
}
