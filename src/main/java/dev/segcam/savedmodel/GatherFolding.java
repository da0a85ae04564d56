package dev.segcam.savedmodel;

import java.util.List;

/**
 * GatherV2 (tf.gather) of import-time constants, as tf.tensordot picks the free and contracted
 * sizes out of a Shape: params[..., indices, ...] along a constant axis, batch_dims 0. Unknown
 * run-time sizes (NaN) are carried over like any other value.
 */
final class GatherFolding {
  private GatherFolding() {}

  /** GatherV2(params, indices, axis) on constants. */
  static Cst gather(TfNode n, List<Cst> in) {
    if (n.attr("batch_dims") != null && n.attr("batch_dims").getI() != 0) {
      throw new IllegalArgumentException("GatherV2 with batch_dims is not supported");
    }
    Cst params = in.get(0);
    int[] idx = ConstFolding.concrete(in.get(1));
    int axis = in.size() > 2 ? ConstFolding.concrete(in.get(2))[0] : 0;
    int r = params.rank();
    int ax = axis < 0 ? axis + r : axis;
    if (ax < 0 || ax >= r) {
      throw new IllegalArgumentException("GatherV2 axis " + axis + " of a rank-" + r + " constant");
    }
    int len = params.shape[ax];
    for (int i : idx) {
      if (i < 0 || i >= len) {
        throw new IllegalArgumentException(
            "GatherV2 index " + i + " out of range [0, " + len + ") of axis " + ax);
      }
    }
    int outer = 1;
    for (int i = 0; i < ax; i++) {
      outer *= params.shape[i];
    }
    int inner = 1;
    for (int i = ax + 1; i < r; i++) {
      inner *= params.shape[i];
    }
    int[] ishape = in.get(1).shape;
    int[] shape = new int[r - 1 + ishape.length];
    System.arraycopy(params.shape, 0, shape, 0, ax);
    System.arraycopy(ishape, 0, shape, ax, ishape.length);
    System.arraycopy(params.shape, ax + 1, shape, ax + ishape.length, r - ax - 1);
    double[] d = new double[outer * idx.length * inner];
    int k = 0;
    for (int o = 0; o < outer; o++) {
      for (int i : idx) {
        for (int j = 0; j < inner; j++) {
          d[k++] = params.get((o * len + i) * inner + j);
        }
      }
    }
    if (params.integral()) {
      return Cst.ints(shape, d);
    }
    float[] f = new float[d.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) d[i];
    }
    return Cst.floats(shape, f);
  }
}
