package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Layout ops imported as ops the engines already run forward and backward. DepthToSpace (pixel
 * shuffle) is a Reshape, a Transpose and a Reshape. TensorFlow's MirrorPad (REFLECT or SYMMETRIC,
 * as Keras reflection-padding layers and ResNet-style generators export it) imported as ops the
 * engines already run forward and backward: per padded axis, a Concat of the input with the
 * reversed slices (StridedSlice with stride -1) that mirror it. TensorFlow's MirrorPadGrad sums
 * each padded element's gradient back onto the element it copies; the gradients of StridedSlice
 * (scatter) and Concat (split) summed over the parts are exactly that. Errors are {@link
 * IllegalArgumentException}s that the {@link Converter} reports with the node.
 */
final class RearrangeConversions {
  private RearrangeConversions() {}

  /**
   * DepthToSpace of an NHWC input (N,H,W,C) with block b, TensorFlow's DCR order: out[n, h·b+i,
   * w·b+j, c] = x[n, h, w, (i·b+j)·C/b² + c]. As (N,H,W,b,b·C') → Transpose (0,1,3,2,4) →
   * (N,H,b,W,b·C'), whose row-major order is that of (N,H·b,W·b,C'): returns the two Reshapes'
   * targets (batch omitted) and the Transpose, in order. H and W must be known.
   */
  static List<Op> depthToSpace(int[] dims, int block, String format) {
    if (!format.equals("NHWC")) {
      throw new IllegalArgumentException("data_format " + format + " is not supported (only NHWC)");
    }
    if (dims.length != 4 || block < 2) {
      throw new IllegalArgumentException(
          "DepthToSpace with block " + block + " of a tensor " + Arrays.toString(dims));
    }
    int h = dims[1];
    int w = dims[2];
    int c = dims[3];
    if (h < 0 || w < 0 || c < 0 || c % (block * block) != 0) {
      throw new IllegalArgumentException(
          "DepthToSpace with block "
              + block
              + " needs known H, W and channels divisible by "
              + block * block
              + ", got "
              + Arrays.toString(dims));
    }
    int out = c / (block * block);
    return List.of(
        new Op.Reshape(dev.segcam.ir.Shape.of(h, w, block, block * out)),
        new Op.Transpose(List.of(0, 1, 3, 2, 4)),
        new Op.Reshape(dev.segcam.ir.Shape.of(h * block, w * block, out)));
  }

  /** One padded axis: concatenate {@code parts} along {@code axis}; a null part is the input. */
  record MirrorStep(int axis, List<Op.StridedSlice> parts) {}

  /**
   * The steps that pad an input of the given dims by {@code paddings} (flattened {before, after}
   * per axis, TensorFlow's layout) in mode "REFLECT" or "SYMMETRIC". Axes without padding get no
   * step; the batch axis may not be padded.
   */
  static List<MirrorStep> mirrorPad(int[] dims, int[] paddings, String mode) {
    boolean symmetric;
    switch (mode) {
      case "REFLECT" -> symmetric = false;
      case "SYMMETRIC" -> symmetric = true;
      default -> throw new IllegalArgumentException("MirrorPad mode '" + mode + "' is unknown");
    }
    int rank = dims.length;
    if (paddings.length != 2 * rank) {
      throw new IllegalArgumentException(
          "paddings " + Arrays.toString(paddings) + " for rank " + rank);
    }
    if (paddings[0] != 0 || paddings[1] != 0) {
      throw new IllegalArgumentException("padding the batch axis is not supported");
    }
    List<MirrorStep> steps = new ArrayList<>();
    for (int d = 1; d < rank; d++) {
      int before = paddings[2 * d];
      int after = paddings[2 * d + 1];
      if (before == 0 && after == 0) {
        continue;
      }
      int n = dims[d];
      if (n < 0) {
        throw new IllegalArgumentException(
            "MirrorPad needs axis "
                + d
                + "'s size, known only at run time here (import at the image's size)");
      }
      // TensorFlow's limits: a reflection never repeats the edge, so it can reach n-1 elements
      int limit = symmetric ? n : n - 1;
      if (before < 0 || after < 0 || before > limit || after > limit) {
        throw new IllegalArgumentException(
            "MirrorPad "
                + mode
                + " of "
                + Arrays.toString(paddings)
                + " on axis "
                + d
                + " of size "
                + n
                + " (each side at most "
                + (symmetric ? "the size" : "the size - 1")
                + ")");
      }
      // the reversed runs: before the input, elements [before-1 .. 0] (SYMMETRIC) or
      // [before .. 1] (REFLECT); after it, [n-1 .. n-after] or [n-2 .. n-1-after]
      int skip = symmetric ? 0 : 1;
      List<Op.StridedSlice> parts = new ArrayList<>();
      if (before > 0) {
        parts.add(reversed(rank, d, before - 1 + skip, skip - 1));
      }
      parts.add(null);
      if (after > 0) {
        parts.add(reversed(rank, d, n - 1 - skip, n - 1 - skip - after));
      }
      steps.add(new MirrorStep(d, parts));
    }
    return steps;
  }

  /**
   * Elements first, first-1, ..., last+1 of axis d (stride -1), every other axis whole; a last of
   * -1 (down to element 0 inclusive) is the end mask, as a negative end would count from the back.
   */
  private static Op.StridedSlice reversed(int rank, int d, int first, int last) {
    int[] begin = new int[rank];
    int[] end = new int[rank];
    int[] strides = new int[rank];
    Arrays.fill(strides, 1);
    int whole = ((1 << rank) - 1) & ~(1 << d);
    begin[d] = first;
    end[d] = last;
    strides[d] = -1;
    int endMask = last < 0 ? whole | (1 << d) : whole;
    return new Op.StridedSlice(begin, end, strides, whole, endMask, 0, new int[0]);
  }

  /** DepthToSpace on the converter's current node: Reshape → Transpose → Reshape. */
  static Converter.Val depthToSpace(Converter cv) {
    String x = cv.act(0);
    org.tensorflow.proto.AttrValue block = cv.attr("block_size");
    List<Op> ops =
        depthToSpace(
            cv.shapeOf(x).dims(),
            block == null ? 0 : Math.toIntExact(block.getI()),
            cv.attrS("data_format", "NHWC"));
    String path = cv.current().path;
    for (int k = 0; k < ops.size(); k++) {
      x = cv.add(k == ops.size() - 1 ? path : path + "/step", ops.get(k), x);
    }
    return new Converter.Act(x);
  }

  /** MirrorPad on the converter's current node: concats of the input with its reversed slices. */
  static Converter.Val mirrorPad(Converter cv) {
    String x = cv.act(0);
    List<MirrorStep> steps =
        mirrorPad(cv.shapeOf(x).dims(), cv.ints(cv.cst(1, "paddings")), cv.attrS("mode", ""));
    String path = cv.current().path;
    for (int k = 0; k < steps.size(); k++) {
      List<String> parts = new ArrayList<>();
      for (Op.StridedSlice p : steps.get(k).parts()) {
        parts.add(p == null ? x : cv.add(path + "/mirror", p, x));
      }
      String name = k == steps.size() - 1 ? path : path + "/concat";
      x = cv.add(name, new Op.Concat(steps.get(k).axis()), parts.toArray(String[]::new));
    }
    return new Converter.Act(x);
  }
}
