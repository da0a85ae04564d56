package dev.segcam.savedmodel;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.Converter.Act;
import dev.segcam.savedmodel.Converter.Val;
import java.util.Arrays;

/**
 * The TensorFlow ops with weights: Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput (as a
 * transposed convolution), MaxPool/AvgPool, FusedBatchNorm (folded to a scale and offset per
 * channel) and MatMul, each with its constant weights and NHWC attributes checked. {@link
 * Converter} dispatches here; errors name the node through it.
 */
final class ConvConversions {
  private ConvConversions() {}

  private static int[] nhwc4(Converter cv, int[] v, String what) {
    if (v.length != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1) {
      throw cv.error(what + " " + Arrays.toString(v) + " must be [1, h, w, 1]");
    }
    return v;
  }

  private static void requireNhwc(Converter cv) {
    String f = cv.attrS("data_format", "NHWC");
    if (!f.equals("NHWC")) {
      throw cv.error("data_format " + f + " is not supported (only NHWC)");
    }
  }

  private static Padding padding(Converter cv) {
    String p = cv.attrS("padding", "VALID");
    if (p.equals("SAME")) {
      return Padding.SAME;
    }
    if (p.equals("VALID")) {
      return Padding.VALID;
    }
    throw cv.error("padding " + p + " is not supported (only SAME and VALID)");
  }

  static Val biasAdd(Converter cv) {
    requireNhwc(cv);
    return cv.emit(new Op.BiasAdd(rank1(cv, cv.cst(1, "bias"))), cv.act(0));
  }

  private static FloatTensor rank1(Converter cv, Cst c) {
    if (c.rank() != 1) {
      throw cv.error("expects a 1-D constant, got shape " + Arrays.toString(c.shape));
    }
    return c.tensor();
  }

  private static FloatTensor rank4(Converter cv, Cst c, String what) {
    if (c.rank() != 4) {
      throw cv.error(what + " must have rank 4, got shape " + Arrays.toString(c.shape));
    }
    return c.tensor();
  }

  /** Conv2D, or DepthwiseConv2dNative when {@code depthwise}: constant filter, NHWC. */
  static Val conv2d(Converter cv, boolean depthwise) {
    requireNhwc(cv);
    String x = cv.act(0);
    FloatTensor f = rank4(cv, cv.cst(1, "filter"), "filter");
    int[][] sd = stridesDilations(cv);
    int[] s = sd[0];
    int[] d = DilationConversions.dilations(cv, sd[1]);
    Padding p = padding(cv);
    return cv.emit(
        depthwise
            ? new Op.DepthwiseConv2D(f, null, s[1], s[2], d[1], d[2], p)
            : new Op.Conv2D(f, null, s[1], s[2], d[1], d[2], p),
        x);
  }

  /** The strides and dilations attributes, each [1, h, w, 1] (default all ones). */
  private static int[][] stridesDilations(Converter cv) {
    int[] ones = {1, 1, 1, 1};
    return new int[][] {
      nhwc4(cv, cv.attrInts("strides", ones), "strides"),
      nhwc4(cv, cv.attrInts("dilations", ones), "dilations")
    };
  }

  static Val convTranspose(Converter cv) {
    requireNhwc(cv);
    Cst sizes = cv.cst(0, "input_sizes");
    FloatTensor f = rank4(cv, cv.cst(1, "filter"), "filter");
    String x = cv.act(2);
    int[][] sd = stridesDilations(cv);
    int[] s = sd[0];
    int[] d = sd[1];
    if (d[1] != 1 || d[2] != 1) {
      throw cv.error("dilated transposed convolution is not supported");
    }
    if (sizes.size() != 4) {
      throw cv.error("input_sizes must have 4 values, got " + sizes);
    }
    int oh = Double.isNaN(sizes.get(1)) ? -1 : (int) sizes.get(1);
    int ow = Double.isNaN(sizes.get(2)) ? -1 : (int) sizes.get(2);
    return cv.emit(new Op.Conv2DTranspose(f, null, s[1], s[2], padding(cv), oh, ow), x);
  }

  static Val pool(Converter cv) {
    requireNhwc(cv);
    String x = cv.act(0);
    int[] k;
    int[] s;
    if (cv.current().op.equals("MaxPoolV2")) {
      k = cv.ints(cv.cst(1, "ksize"));
      s = cv.ints(cv.cst(2, "strides"));
    } else {
      k = cv.attrInts("ksize", new int[0]);
      s = cv.attrInts("strides", new int[0]);
    }
    nhwc4(cv, k, "ksize");
    nhwc4(cv, s, "strides");
    Op.PoolKind kind = cv.current().op.equals("AvgPool") ? Op.PoolKind.AVG : Op.PoolKind.MAX;
    return cv.emit(new Op.Pool(kind, k[1], k[2], s[1], s[2], padding(cv)), x);
  }

  static Val batchNorm(Converter cv) {
    requireNhwc(cv);
    if (cv.attrB("is_training", true)) {
      throw cv.error("batch norm in training mode (is_training=true) is not supported");
    }
    String x = cv.act(0);
    float[] gamma = rank1(cv, cv.cst(1, "scale")).data();
    float[] beta = rank1(cv, cv.cst(2, "offset")).data();
    float[] mean = rank1(cv, cv.cst(3, "mean")).data();
    float[] var = rank1(cv, cv.cst(4, "variance")).data();
    int c = gamma.length;
    if (beta.length != c || mean.length != c || var.length != c) {
      throw cv.error("batch-norm parameters differ in length");
    }
    float eps = cv.attrF("epsilon", 1e-3f);
    float[] scale = new float[c];
    float[] offset = new float[c];
    for (int i = 0; i < c; i++) {
      scale[i] = (float) (gamma[i] / Math.sqrt((double) var[i] + eps));
      offset[i] = beta[i] - mean[i] * scale[i];
    }
    return cv.emit(
        new Op.BatchNorm(new FloatTensor(Shape.of(c), scale), new FloatTensor(Shape.of(c), offset)),
        x);
  }

  static Val matmul(Converter cv) {
    if (cv.attrB("transpose_a", false) || !(cv.in(0) instanceof Act) || cv.in(1) instanceof Act) {
      return MatMulConversions.product(cv, "MatMul");
    }
    String x = cv.act(0);
    Cst w = cv.cst(1, "weights");
    if (w.rank() != 2) {
      throw cv.error("weights must be 2-D, got " + Arrays.toString(w.shape));
    }
    FloatTensor t = w.tensor();
    if (cv.attrB("transpose_b", false)) {
      int r = w.shape[0];
      int c = w.shape[1];
      float[] src = t.data();
      float[] dst = new float[src.length];
      for (int i = 0; i < r; i++) {
        for (int j = 0; j < c; j++) {
          dst[j * r + i] = src[i * c + j];
        }
      }
      t = new FloatTensor(Shape.of(c, r), dst);
    }
    return cv.emit(new Op.MatMul(t, null), x);
  }
}
