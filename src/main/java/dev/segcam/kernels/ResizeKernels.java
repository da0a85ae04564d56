package dev.segcam.kernels;

import static dev.segcam.kernels.KernelArgs.length;

/**
 * Java twins of kernels/resize.cu (bilinear and nearest-neighbour resize with TensorFlow's
 * coordinate rules, and their adjoints), same names and argument order, the sizes and flags after
 * the two buffers as one {@link ResizeDims}. Each kernel has a range variant {@code
 * <kernel>_rows(..., rowLo, rowHi)} over rows of the tensor it writes (N·OH output rows forward,
 * N·H input rows backward) that the CPU engine runs in parallel; the whole-tensor twin runs it
 * once. The backward twins gather per input pixel, as the kernels do, and sum in the kernels' order
 * (outputs in (oy, ox) order), so the host-compiled kernels match them.
 */
public final class ResizeKernels {
  private ResizeKernels() {}

  // ---------------------------------------------------------------------------------------------
  // bilinear

  /**
   * Bilinear resize with TensorFlow's ResizeBilinear semantics (float arithmetic in TF's order):
   *
   * <pre>
   *   scale = align_corners && out > 1 ? (in-1)/(out-1) : in/out
   *   src   = half_pixel_centers ? (o + 0.5)·scale − 0.5 : o·scale
   *   lower = max(floor(src), 0), upper = min(ceil(src), in−1), lerp = src − floor(src)
   * </pre>
   *
   * <p>{@code // in (N,H,W,C) -> out (N,OH,OW,C)}
   */
  public static void resize_bilinear_fwd(float[] out, float[] in, ResizeDims d) {
    d.check();
    length("out", out, d.big());
    length("in", in, d.small());
    resize_bilinear_fwd_rows(out, in, d, 0, d.n() * d.oh());
  }

  /**
   * {@link #resize_bilinear_fwd} on output rows [rowLo, rowHi) of the N·OH rows, for the CPU
   * engine's parallel split (no argument checks: the caller has them).
   */
  public static void resize_bilinear_fwd_rows(
      float[] out, float[] in, ResizeDims d, int rowLo, int rowHi) {
    Axis ya = new Axis(d.h(), d.oh(), d.align(), d.half());
    Axis xa = new Axis(d.w(), d.ow(), d.align(), d.half());
    for (int row = rowLo; row < rowHi; row++) {
      int n = row / d.oh();
      int oy = row - n * d.oh();
      int top = (n * d.h() + ya.lower[oy]) * d.w();
      int bot = (n * d.h() + ya.upper[oy]) * d.w();
      float yl = ya.lerp[oy];
      for (int ox = 0; ox < d.ow(); ox++) {
        int l = xa.lower[ox];
        int r = xa.upper[ox];
        float xl = xa.lerp[ox];
        int o = ((n * d.oh() + oy) * d.ow() + ox) * d.c();
        for (int c = 0; c < d.c(); c++) {
          float tl = in[(top + l) * d.c() + c];
          float tr = in[(top + r) * d.c() + c];
          float bl = in[(bot + l) * d.c() + c];
          float br = in[(bot + r) * d.c() + c];
          float t = tl + (tr - tl) * xl;
          float b = bl + (br - bl) * xl;
          out[o + c] = t + (b - t) * yl;
        }
      }
    }
  }

  /**
   * The adjoint of {@link #resize_bilinear_fwd} (TensorFlow's ResizeBilinearGrad): each output
   * gradient is spread onto the (up to) four input pixels it was interpolated from, with the same
   * weights, (1−ly)(1−lx), (1−ly)lx, ly(1−lx), ly·lx, where the float weights are formed as in the
   * forward and products and sums are taken in double.
   *
   * <p>{@code // gradOut (N,OH,OW,C) -> gradIn (N,H,W,C)}
   */
  public static void resize_bilinear_bwd(float[] gradIn, float[] gradOut, ResizeDims d) {
    d.check();
    length("gradIn", gradIn, d.small());
    length("gradOut", gradOut, d.big());
    resize_bilinear_bwd_rows(gradIn, gradOut, d, 0, d.n() * d.h());
  }

  /**
   * {@link #resize_bilinear_bwd} on input rows [rowLo, rowHi) of the N·H rows of gradIn: each row
   * gathers the output rows whose taps reach it, in (oy, ox) order and per (oy, ox) in the order
   * top-left, top-right, bottom-left, bottom-right, as resize.cu.
   */
  public static void resize_bilinear_bwd_rows(
      float[] gradIn, float[] gradOut, ResizeDims d, int rowLo, int rowHi) {
    Axis ya = new Axis(d.h(), d.oh(), d.align(), d.half());
    Axis xa = new Axis(d.w(), d.ow(), d.align(), d.half());
    double[] acc = new double[d.w() * d.c()];
    for (int row = rowLo; row < rowHi; row++) {
      int n = row / d.h();
      int iy = row - n * d.h();
      java.util.Arrays.fill(acc, 0.0);
      for (int oy = 0; oy < d.oh(); oy++) {
        boolean top = ya.lower[oy] == iy;
        boolean bot = ya.upper[oy] == iy;
        if (!top && !bot) {
          continue;
        }
        double wt = 1f - ya.lerp[oy];
        double wb = ya.lerp[oy];
        for (int ox = 0; ox < d.ow(); ox++) {
          int l = xa.lower[ox] * d.c();
          int r = xa.upper[ox] * d.c();
          double wl = 1f - xa.lerp[ox];
          double wr = xa.lerp[ox];
          int o = ((n * d.oh() + oy) * d.ow() + ox) * d.c();
          for (int c = 0; c < d.c(); c++) {
            double g = gradOut[o + c];
            if (top) {
              acc[l + c] += g * wt * wl;
              acc[r + c] += g * wt * wr;
            }
            if (bot) {
              acc[l + c] += g * wb * wl;
              acc[r + c] += g * wb * wr;
            }
          }
        }
      }
      int off = row * d.w() * d.c();
      for (int i = 0; i < acc.length; i++) {
        gradIn[off + i] = (float) acc[i];
      }
    }
  }

  /** TensorFlow's resize scale, in float. */
  public static float resizeScale(int in, int out, boolean alignCorners) {
    return alignCorners && out > 1 ? (in - 1) / (float) (out - 1) : in / (float) out;
  }

  /** Source coordinate of output index o, in float, as resize.cu computes it. */
  public static float resizeSource(int o, float scale, boolean halfPixelCenters) {
    return halfPixelCenters ? ((float) o + 0.5f) * scale - 0.5f : (float) o * scale;
  }

  /** Per-axis interpolation table: the two source indices and the lerp of each output index. */
  private static final class Axis {
    final int[] lower;
    final int[] upper;
    final float[] lerp;

    Axis(int in, int out, boolean alignCorners, boolean halfPixelCenters) {
      lower = new int[out];
      upper = new int[out];
      lerp = new float[out];
      bilinearTaps(in, out, alignCorners, halfPixelCenters, lower, upper, lerp);
    }
  }

  /**
   * Source coordinates of a bilinear resize along one axis, TF's compute_interpolation_weights:
   * lower/upper neighbours (clamped) and the fraction toward upper, in float as resize.cu.
   */
  public static void bilinearTaps(
      int in,
      int out,
      boolean alignCorners,
      boolean halfPixelCenters,
      int[] lower,
      int[] upper,
      float[] lerp) {
    float scale = resizeScale(in, out, alignCorners);
    for (int o = 0; o < out; o++) {
      float src = resizeSource(o, scale, halfPixelCenters);
      float fl = (float) Math.floor(src);
      lower[o] = Math.max((int) fl, 0);
      upper[o] = Math.min((int) Math.ceil(src), in - 1);
      lerp[o] = src - fl;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // nearest neighbour

  /** Source index of output index o of a nearest-neighbour resize along one axis, TF's rule. */
  public static int nearestTap(int o, int in, float scale, boolean align, boolean half) {
    float src = half ? ((float) o + 0.5f) * scale : (float) o * scale;
    int s = align ? Math.round(src) : (int) Math.floor(src);
    s = Math.min(s, in - 1);
    return half ? Math.max(0, s) : s;
  }

  /** The source index of every output index along one axis. */
  private static int[] nearestTaps(int in, int out, boolean align, boolean half) {
    float scale = resizeScale(in, out, align);
    int[] taps = new int[out];
    for (int o = 0; o < out; o++) {
      taps[o] = nearestTap(o, in, scale, align, half);
    }
    return taps;
  }

  /** {@code // x (N,H,W,C) -> y (N,OH,OW,C)}, TF ResizeNearestNeighbor. */
  public static void resize_nearest_fwd(float[] y, float[] x, ResizeDims d) {
    resize_nearest_fwd_rows(y, x, d, 0, d.n() * d.oh());
  }

  /** {@link #resize_nearest_fwd} on output rows [rowLo, rowHi) of the N·OH rows. */
  public static void resize_nearest_fwd_rows(
      float[] y, float[] x, ResizeDims d, int rowLo, int rowHi) {
    int[] yi = nearestTaps(d.h(), d.oh(), d.align(), d.half());
    int[] xi = nearestTaps(d.w(), d.ow(), d.align(), d.half());
    for (int row = rowLo; row < rowHi; row++) {
      int n = row / d.oh();
      int oy = row - n * d.oh();
      for (int ox = 0; ox < d.ow(); ox++) {
        System.arraycopy(
            x,
            ((n * d.h() + yi[oy]) * d.w() + xi[ox]) * d.c(),
            y,
            ((n * d.oh() + oy) * d.ow() + ox) * d.c(),
            d.c());
      }
    }
  }

  /** {@code // dy (B,OH,OW,C) -> dx (B,H,W,C)}, the adjoint (sum over outputs sourced here). */
  public static void resize_nearest_bwd(float[] dx, float[] dy, ResizeDims d) {
    resize_nearest_bwd_rows(dx, dy, d, 0, d.n() * d.h());
  }

  /**
   * {@link #resize_nearest_bwd} on input rows [rowLo, rowHi) of the B·H rows of dx; each element
   * sums in float in (oy, ox) order, as resize.cu.
   */
  public static void resize_nearest_bwd_rows(
      float[] dx, float[] dy, ResizeDims d, int rowLo, int rowHi) {
    int[] yi = nearestTaps(d.h(), d.oh(), d.align(), d.half());
    int[] xi = nearestTaps(d.w(), d.ow(), d.align(), d.half());
    for (int row = rowLo; row < rowHi; row++) {
      int b = row / d.h();
      int iy = row - b * d.h();
      java.util.Arrays.fill(dx, row * d.w() * d.c(), (row + 1) * d.w() * d.c(), 0f);
      for (int oy = 0; oy < d.oh(); oy++) {
        if (yi[oy] != iy) {
          continue;
        }
        for (int ox = 0; ox < d.ow(); ox++) {
          int src = ((b * d.oh() + oy) * d.ow() + ox) * d.c();
          int dst = (row * d.w() + xi[ox]) * d.c();
          for (int c = 0; c < d.c(); c++) {
            dx[dst + c] += dy[src + c];
          }
        }
      }
    }
  }
}
