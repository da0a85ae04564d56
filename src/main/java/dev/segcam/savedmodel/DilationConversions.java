package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.AttrValue;

/**
 * tf.nn's dilated convolution as older exporters and tf.nn.depthwise_conv2d / atrous_conv2d with
 * rate > 1 write it (TensorFlow's CPU depthwise kernel has no dilation):
 *
 * <pre>SpaceToBatchND(x, block, paddings) → Conv2D / DepthwiseConv2dNative (stride 1, VALID)
 *     → BatchToSpaceND(·, block, crops)</pre>
 *
 * Sub-image (a,b) of the space-to-batch holds P[u·r+a, v·r+b] of the padded input P; a VALID conv
 * with kernel K on it, put back by batch-to-space, is Z[i,j] = Σ K[p,q]·P[i+p·r, j+q·r]: the conv
 * dilated by the block on P, then cropped. So the pattern imports as Pad → the conv with the block
 * as its dilation (VALID) → a crop (StridedSlice), ops every engine runs forward and backward.
 * Anything else that reads a SpaceToBatchND is refused. Errors are {@link
 * IllegalArgumentException}s that the {@link Converter} reports with the node.
 */
final class DilationConversions {
  private DilationConversions() {}

  /** The conv ops the pattern may hold. */
  static final Set<String> CONVS = Set.of("Conv2D", "DepthwiseConv2dNative");

  /** The spatial block (2 values, each >= 1). */
  static int[] block(Cst block) {
    if (block.rank() != 1 || block.size() != 2 || block.hasUnknown()) {
      throw new IllegalArgumentException("block_shape must be 2 known values (H, W), got " + block);
    }
    int[] b = {(int) block.get(0), (int) block.get(1)};
    if (b[0] < 1 || b[1] < 1) {
      throw new IllegalArgumentException("block_shape " + Arrays.toString(b) + " must be >= 1");
    }
    return b;
  }

  /** paddings or crops of shape (2, 2), known and >= 0: {top, bottom, left, right}. */
  static int[] spatial(Cst c, String what) {
    if (c.rank() != 2 || c.shape[0] != 2 || c.shape[1] != 2 || c.hasUnknown()) {
      throw new IllegalArgumentException(
          what + " must be a known (2, 2) tensor, got shape " + Arrays.toString(c.shape));
    }
    int[] v = new int[4];
    for (int i = 0; i < 4; i++) {
      v[i] = (int) c.get(i);
      if (v[i] < 0) {
        throw new IllegalArgumentException(what + " " + Arrays.toString(v) + " must be >= 0");
      }
    }
    return v;
  }

  /**
   * Why a node that reads a SpaceToBatchND (its consumers given) is not the conv of the pattern, or
   * null when it is.
   */
  static String notPattern(TfNode conv, List<TfNode> convConsumers) {
    if (!CONVS.contains(conv.op)) {
      return conv.path + " (" + conv.op + ") reads it; only Conv2D/DepthwiseConv2dNative may";
    }
    AttrValue pad = conv.attr("padding");
    if (pad == null || !pad.getS().toStringUtf8().equals("VALID")) {
      return conv.path + " is not VALID";
    }
    for (String key : List.of("strides", "dilations")) {
      AttrValue a = conv.attr(key);
      if (a != null) {
        for (long v : a.getList().getIList()) {
          if (v != 1) {
            return conv.path + " has " + key + " other than 1";
          }
        }
      }
    }
    if (convConsumers.isEmpty()) {
      return conv.path + " is not followed by BatchToSpaceND";
    }
    for (TfNode c : convConsumers) {
      if (!c.op.equals("BatchToSpaceND")) {
        return c.path + " (" + c.op + ") reads " + conv.path + "; only BatchToSpaceND may";
      }
    }
    return null;
  }

  /** The padding of the input (rank 4): paddings {top, bottom, left, right} on H and W. */
  static Op.Pad pad(int[] p) {
    return new Op.Pad(
        List.of(new int[] {0, 0}, new int[] {p[0], p[1]}, new int[] {p[2], p[3]}, new int[] {0, 0}),
        0f);
  }

  /** The crop {top, bottom, left, right} of a rank-4 activation, as a StridedSlice. */
  static Op.StridedSlice crop(int[] c) {
    int[] begin = {0, c[0], c[2], 0};
    // a negative end counts from the back; no crop at the end is the end mask
    int[] end = {0, -c[1], -c[3], 0};
    int endMask = 0b1001 | (c[1] == 0 ? 0b10 : 0) | (c[3] == 0 ? 0b100 : 0);
    return new Op.StridedSlice(begin, end, new int[] {1, 1, 1, 1}, 0b1001, endMask, 0, new int[0]);
  }

  /**
   * A conv's dilations: its attribute {@code d}, or times the block of the SpaceToBatchND it reads
   * (tf.nn's dilated-conv pattern; the pattern has the attribute at 1).
   */
  static int[] dilations(Converter cv, int[] d) {
    TfNode src = cv.current().inputs.isEmpty() ? null : cv.current().inputs.get(0).node();
    if (src == null || !src.op.equals("SpaceToBatchND")) {
      return d;
    }
    int[] block = block(cv.constOf(src.inputs.get(1), "block_shape"));
    return new int[] {1, block[0] * d[1], block[1] * d[2], 1};
  }

  /** SpaceToBatchND of the dilated-conv pattern: the padding. */
  static Converter.Val spaceToBatch(Converter cv) {
    String x = cv.act(0);
    block(cv.cst(1, "block_shape"));
    int[] pads = spatial(cv.cst(2, "paddings"), "paddings");
    if (cv.shapeOf(x).rank() != 4) {
      throw cv.error("SpaceToBatchND of a rank-" + cv.shapeOf(x).rank() + " tensor (only NHWC)");
    }
    for (TfNode c : cv.consumersOf(cv.current())) {
      String why = notPattern(c, cv.consumersOf(c));
      if (why != null) {
        throw cv.error(
            "SpaceToBatchND is supported as tf.nn's dilated convolution (SpaceToBatchND → VALID"
                + " stride-1 Conv2D/DepthwiseConv2dNative → BatchToSpaceND) only: "
                + why);
      }
    }
    return Arrays.stream(pads).allMatch(v -> v == 0) ? new Converter.Act(x) : cv.emit(pad(pads), x);
  }

  /** BatchToSpaceND of the dilated-conv pattern: the crop. */
  static Converter.Val batchToSpace(Converter cv) {
    TfNode conv = cv.current().inputs.get(0).node();
    TfNode s2b = conv.inputs.isEmpty() ? null : conv.inputs.get(0).node();
    if (!CONVS.contains(conv.op) || s2b == null || !s2b.op.equals("SpaceToBatchND")) {
      throw cv.error(
          "BatchToSpaceND is supported only after SpaceToBatchND → conv (tf.nn's dilated"
              + " convolution), here it reads "
              + conv.path
              + " ("
              + conv.op
              + ")");
    }
    int[] block = block(cv.cst(1, "block_shape"));
    int[] inner = block(cv.constOf(s2b.inputs.get(1), "block_shape"));
    if (!Arrays.equals(block, inner)) {
      throw cv.error(
          "BatchToSpaceND block "
              + Arrays.toString(block)
              + " differs from its SpaceToBatchND's "
              + Arrays.toString(inner));
    }
    int[] crops = spatial(cv.cst(2, "crops"), "crops");
    String z = cv.act(0);
    return Arrays.stream(crops).allMatch(v -> v == 0)
        ? new Converter.Act(z)
        : cv.emit(crop(crops), z);
  }
}
