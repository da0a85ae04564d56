package dev.segcam.backend.cuda;

import dev.segcam.ir.Op;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ConvKernels;
import dev.segcam.kernels.KernelArgumentException;
import dev.segcam.kernels.LayoutKernels;
import dev.segcam.kernels.PoolKernels;
import dev.segcam.kernels.ResizeKernels;
import java.util.Map;

/**
 * Launchers for the graph-op kernels ({@code kernels/activation.cu, softmax.cu, pool.cu, resize.cu
 * (nearest), concat_pad.cu, binary.cu, conv_direct.cu}): the IR ops that cuDNN and cuBLAS do not
 * cover, with the names and argument order of their twins in {@link ActivationKernels}, {@link
 * PoolKernels}, {@link LayoutKernels} and {@link ConvKernels} (device buffers in place of arrays,
 * null for an absent optional pointer). Each checks sizes on the host and enqueues on the context's
 * stream without waiting.
 */
public final class CudaGraphOps implements AutoCloseable {
  private static final int BLOCK = 256;
  private static final int MAX_GRID = 65535;
  private static final Long NULL = 0L;

  /** The PTX module (kernels/<module>.cu) of each kernel launched here. */
  static final Map<String, String> MODULE_OF =
      Map.ofEntries(
          Map.entry("activation_fwd", "activation"),
          Map.entry("activation_bwd", "activation"),
          Map.entry("guided_relu_bwd", "activation"),
          Map.entry("softmax_fwd", "softmax"),
          Map.entry("softmax_bwd", "softmax"),
          Map.entry("pool_fwd", "pool"),
          Map.entry("maxpool_bwd", "pool"),
          Map.entry("avgpool_bwd", "pool"),
          Map.entry("spatial_mean_bwd", "pool"),
          Map.entry("resize_nearest_fwd", "resize"),
          Map.entry("resize_nearest_bwd", "resize"),
          Map.entry("concat_copy", "concat_pad"),
          Map.entry("pad_fwd", "concat_pad"),
          Map.entry("pad_bwd", "concat_pad"),
          Map.entry("channel_affine", "binary"),
          Map.entry("channel_scale_bwd", "binary"),
          Map.entry("binary_fwd", "binary"),
          Map.entry("binary_bwd", "binary"),
          Map.entry("add_inplace", "binary"),
          Map.entry("conv2d_direct_fwd", "conv_direct"),
          Map.entry("conv2d_direct_bwd_data", "conv_direct"));

  private final CudaContext ctx;
  private final PtxModules modules;

  CudaGraphOps(CudaContext ctx) {
    this.ctx = ctx;
    this.modules = new PtxModules(ctx);
  }

  private void launch(String kernel, long total, Object... args) {
    launchIn(MODULE_OF.get(kernel), kernel, total, args);
  }

  /**
   * One grid-stride launch over {@code total} elements, block 256, of a kernel of
   * kernels/&lt;module&gt;.cu (the module loaded on first use). One-op files (as exp.cu) are
   * launched by name from the op table. The arguments follow the kernel's (and its Java twin's)
   * order.
   */
  void launchIn(String module, String kernel, long total, Object... args) {
    count(total, kernel);
    if (total <= 0) {
      return; // an empty tensor: nothing to do (a grid of 0 blocks is a launch error)
    }
    int grid = (int) Math.max(1, Math.min(MAX_GRID, (total + BLOCK - 1) / BLOCK));
    ctx.makeCurrent();
    modules.get(module).launch(kernel, grid, 1, 1, BLOCK, 1, 1, 0, ctx.stream(), args);
  }

  private static Object opt(DeviceBuffer b) {
    return b == null ? NULL : b;
  }

  /** The grid-stride loops step an int by up to MAX_GRID·BLOCK: it must not overflow. */
  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - (long) MAX_GRID * BLOCK;

  static int count(long n, String what) {
    if (n < 0 || n > MAX_ELEMENTS) {
      throw new KernelArgumentException(
          what + ": " + n + " elements do not fit the kernels' int indexing");
    }
    return (int) n;
  }

  private static void need(String name, DeviceBuffer b, long floats) {
    if (b == null) {
      throw new KernelArgumentException(name + " is null");
    }
    if (b.bytes() < 4 * floats) {
      throw new KernelArgumentException(
          name + " holds " + b.bytes() / 4 + " floats, the dimensions need " + floats);
    }
  }

  /** See {@link ActivationKernels#channel_affine}. y may be x. */
  public void channel_affine(
      DeviceBuffer y, DeviceBuffer x, DeviceBuffer scale, DeviceBuffer offset, int total, int C) {
    need("y", y, total);
    need("x", x, total);
    if (scale != null) {
      need("scale", scale, C);
    }
    if (offset != null) {
      need("offset", offset, C);
    }
    launch("channel_affine", total, y, x, opt(scale), opt(offset), total, C);
  }

  /** See {@link ActivationKernels#channel_scale_bwd}. */
  public void channel_scale_bwd(
      DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer scale, int total, int C) {
    need("dx", dx, total);
    need("dy", dy, total);
    need("scale", scale, C);
    launch("channel_scale_bwd", total, dx, dy, scale, total, C);
  }

  /** See {@link ActivationKernels#activation_fwd}. */
  public void activation_fwd(DeviceBuffer y, DeviceBuffer x, int total, int kind, float alpha) {
    need("y", y, total);
    need("x", x, total);
    launch("activation_fwd", total, y, x, total, kind, alpha);
  }

  /** See {@link ActivationKernels#activation_bwd}. */
  public void activation_bwd(
      DeviceBuffer dx,
      DeviceBuffer dy,
      DeviceBuffer v,
      int total,
      int valueTotal,
      int kind,
      float alpha) {
    need("dx", dx, total);
    need("dy", dy, total);
    need("v", v, valueTotal);
    tiles(total, valueTotal, "activation_bwd");
    launch("activation_bwd", total, dx, dy, v, total, valueTotal, kind, alpha);
  }

  /** See {@link ActivationKernels#guided_relu_bwd}. */
  public void guided_relu_bwd(
      DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer x, int total, int valueTotal, int kind) {
    need("dx", dx, total);
    need("dy", dy, total);
    need("x", x, valueTotal);
    tiles(total, valueTotal, "guided_relu_bwd");
    launch("guided_relu_bwd", total, dx, dy, x, total, valueTotal, kind);
  }

  /** See {@link ActivationKernels#softmax_fwd}. */
  public void softmax_fwd(DeviceBuffer y, DeviceBuffer x, int rows, int C) {
    need("y", y, (long) rows * C);
    need("x", x, (long) rows * C);
    launch("softmax_fwd", rows, y, x, rows, C);
  }

  /** See {@link ActivationKernels#softmax_bwd}. */
  public void softmax_bwd(
      DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer y, int rows, int valueRows, int C) {
    need("dx", dx, (long) rows * C);
    need("dy", dy, (long) rows * C);
    need("y", y, (long) valueRows * C);
    tiles(rows, valueRows, "softmax_bwd");
    launch("softmax_bwd", rows, dx, dy, y, rows, valueRows, C);
  }

  /** See {@link PoolKernels#pool_fwd}. */
  public void pool_fwd(
      DeviceBuffer y,
      DeviceBuffer x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl,
      boolean max) {
    int total = count((long) N * OH * OW * C, "pool_fwd");
    need("y", y, total);
    need("x", x, (long) N * H * W * C);
    launch("pool_fwd", total, y, x, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, max ? 1 : 0);
  }

  /** See {@link PoolKernels#maxpool_bwd}. */
  public void maxpool_bwd(
      DeviceBuffer dx,
      DeviceBuffer dy,
      DeviceBuffer x,
      int B,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl) {
    int total = count((long) B * H * W * C, "maxpool_bwd");
    need("dx", dx, total);
    need("dy", dy, (long) B * OH * OW * C);
    need("x", x, (long) N * H * W * C);
    tiles(B, N, "maxpool_bwd");
    launch("maxpool_bwd", total, dx, dy, x, B, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl);
  }

  /** See {@link PoolKernels#avgpool_bwd}. */
  public void avgpool_bwd(
      DeviceBuffer dx,
      DeviceBuffer dy,
      int B,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl) {
    int total = count((long) B * H * W * C, "avgpool_bwd");
    need("dx", dx, total);
    need("dy", dy, (long) B * OH * OW * C);
    launch("avgpool_bwd", total, dx, dy, B, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl);
  }

  /** See {@link PoolKernels#spatial_mean_bwd}. */
  public void spatial_mean_bwd(DeviceBuffer dx, DeviceBuffer dy, int B, int HW, int C) {
    int total = count((long) B * HW * C, "spatial_mean_bwd");
    need("dx", dx, total);
    need("dy", dy, (long) B * C);
    launch("spatial_mean_bwd", total, dx, dy, B, HW, C);
  }

  /** See {@link ResizeKernels#resize_nearest_fwd}. */
  public void resize_nearest_fwd(
      DeviceBuffer y,
      DeviceBuffer x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half) {
    int total = count((long) N * OH * OW * C, "resize_nearest_fwd");
    need("y", y, total);
    need("x", x, (long) N * H * W * C);
    launch("resize_nearest_fwd", total, y, x, N, H, W, C, OH, OW, align ? 1 : 0, half ? 1 : 0);
  }

  /** See {@link ResizeKernels#resize_nearest_bwd}. */
  public void resize_nearest_bwd(
      DeviceBuffer dx,
      DeviceBuffer dy,
      int B,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half) {
    int total = count((long) B * H * W * C, "resize_nearest_bwd");
    need("dx", dx, total);
    need("dy", dy, (long) B * OH * OW * C);
    launch("resize_nearest_bwd", total, dx, dy, B, H, W, C, OH, OW, align ? 1 : 0, half ? 1 : 0);
  }

  /** See {@link LayoutKernels#concat_copy}. */
  public void concat_copy(
      DeviceBuffer big,
      DeviceBuffer part,
      int outer,
      int inAxis,
      int inner,
      int outAxis,
      int offset,
      boolean backward) {
    int total = count((long) outer * inAxis * inner, "concat_copy");
    need("part", part, total);
    need("big", big, (long) outer * outAxis * inner);
    if (offset < 0 || offset + inAxis > outAxis) {
      throw new KernelArgumentException(
          "concat_copy: [" + offset + ", " + (offset + inAxis) + ") outside axis " + outAxis);
    }
    launch(
        "concat_copy", total, big, part, outer, inAxis, inner, outAxis, offset, backward ? 1 : 0);
  }

  /** See {@link LayoutKernels#binary_fwd}; dims are rank-4 (left-padded with 1). */
  public void binary_fwd(
      DeviceBuffer out, DeviceBuffer a, DeviceBuffer b, int kind, int[] o, int[] ad, int[] bd) {
    int total = count(prod(o), "binary_fwd");
    need("out", out, total);
    need("a", a, prod(ad));
    need("b", b, prod(bd));
    launch(
        "binary_fwd",
        total,
        out,
        a,
        b,
        kind,
        o[0],
        o[1],
        o[2],
        o[3],
        ad[0],
        ad[1],
        ad[2],
        ad[3],
        bd[0],
        bd[1],
        bd[2],
        bd[3]);
  }

  /** See {@link LayoutKernels#binary_bwd}; a and b may be null for ADD and SUB. */
  public void binary_bwd(
      DeviceBuffer g,
      DeviceBuffer dy,
      DeviceBuffer a,
      DeviceBuffer b,
      int kind,
      boolean wrtA,
      int[] gd,
      int[] yd,
      int[] ad,
      int[] bd) {
    int total = count(prod(gd), "binary_bwd");
    need("g", g, total);
    // the kernel indexes dy with 32-bit ints: its size is checked too, not only g's
    need("dy", dy, count(prod(yd), "binary_bwd dy"));
    for (int d = 0; d < 4; d++) {
      if (gd[d] != yd[d] && gd[d] != 1) {
        throw new KernelArgumentException(
            "binary_bwd: gradient dim " + d + " is " + gd[d] + ", dy has " + yd[d]);
      }
    }
    if (Op.BinaryKind.ofCode(kind).gradReadsValues) {
      need("a", a, prod(ad));
      need("b", b, prod(bd));
    }
    launch(
        "binary_bwd",
        total,
        g,
        dy,
        opt(a),
        opt(b),
        kind,
        wrtA ? 1 : 0,
        gd[0],
        gd[1],
        gd[2],
        gd[3],
        yd[0],
        yd[1],
        yd[2],
        yd[3],
        ad[0],
        ad[1],
        ad[2],
        ad[3],
        bd[0],
        bd[1],
        bd[2],
        bd[3]);
  }

  /** See {@link LayoutKernels#pad_fwd}; dims rank-4. */
  public void pad_fwd(DeviceBuffer out, DeviceBuffer x, float value, int[] o, int[] xd, int[] p) {
    int total = count(prod(o), "pad_fwd");
    need("out", out, total);
    need("x", x, prod(xd));
    for (int d = 0; d < 4; d++) {
      if (p[d] < 0 || p[d] + xd[d] > o[d]) {
        throw new KernelArgumentException("pad_fwd: axis " + d + " does not fit");
      }
    }
    launch(
        "pad_fwd", total, out, x, value, o[0], o[1], o[2], o[3], xd[0], xd[1], xd[2], xd[3], p[0],
        p[1], p[2], p[3]);
  }

  /** See {@link LayoutKernels#pad_bwd}; dims rank-4. */
  public void pad_bwd(DeviceBuffer dx, DeviceBuffer dy, int[] xd, int[] yd, int[] p) {
    int total = count(prod(xd), "pad_bwd");
    need("dx", dx, total);
    // the kernel indexes dy with 32-bit ints: its size is checked too, not only dx's
    need("dy", dy, count(prod(yd), "pad_bwd dy"));
    for (int d = 0; d < 4; d++) {
      if (p[d] < 0 || p[d] + xd[d] > yd[d]) {
        throw new KernelArgumentException("pad_bwd: axis " + d + " does not fit");
      }
    }
    launch(
        "pad_bwd", total, dx, dy, xd[0], xd[1], xd[2], xd[3], yd[0], yd[1], yd[2], yd[3], p[0],
        p[1], p[2], p[3]);
  }

  /** See {@link LayoutKernels#add_inplace}. */
  public void add_inplace(DeviceBuffer acc, DeviceBuffer x, int total) {
    need("acc", acc, total);
    need("x", x, total);
    launch("add_inplace", total, acc, x, total);
  }

  /** See {@link ConvKernels#conv2d_direct_fwd}. */
  public void conv2d_direct_fwd(
      DeviceBuffer y,
      DeviceBuffer x,
      DeviceBuffer w,
      int N,
      int H,
      int W,
      int C,
      int F,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int dh,
      int dw,
      int pt,
      int pl,
      int groups) {
    int total = count((long) N * OH * OW * F, "conv2d_direct_fwd");
    checkGroups(C, F, groups);
    need("y", y, total);
    need("x", x, (long) N * H * W * C);
    need("w", w, (long) F * kh * kw * (C / groups));
    launch(
        "conv2d_direct_fwd",
        total,
        y,
        x,
        w,
        N,
        H,
        W,
        C,
        F,
        OH,
        OW,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        groups);
  }

  /** See {@link ConvKernels#conv2d_direct_bwd_data}. */
  public void conv2d_direct_bwd_data(
      DeviceBuffer dx,
      DeviceBuffer dy,
      DeviceBuffer w,
      int N,
      int H,
      int W,
      int C,
      int F,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int dh,
      int dw,
      int pt,
      int pl,
      int groups) {
    int total = count((long) N * H * W * C, "conv2d_direct_bwd_data");
    checkGroups(C, F, groups);
    need("dx", dx, total);
    need("dy", dy, (long) N * OH * OW * F);
    need("w", w, (long) F * kh * kw * (C / groups));
    launch(
        "conv2d_direct_bwd_data",
        total,
        dx,
        dy,
        w,
        N,
        H,
        W,
        C,
        F,
        OH,
        OW,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt,
        pl,
        groups);
  }

  private static void checkGroups(int C, int F, int groups) {
    if (groups <= 0 || C % groups != 0 || F % groups != 0) {
      throw new KernelArgumentException("groups " + groups + " must divide C=" + C + " and F=" + F);
    }
  }

  private static void tiles(long rows, long valueRows, String what) {
    if (valueRows <= 0 || rows % valueRows != 0) {
      throw new KernelArgumentException(
          what + ": " + rows + " gradient rows/elements do not tile " + valueRows + " values");
    }
  }

  private static long prod(int[] d) {
    if (d.length != 4) {
      throw new KernelArgumentException("rank-4 dims expected, got " + d.length);
    }
    long p = 1;
    for (int v : d) {
      if (v <= 0) {
        throw new KernelArgumentException("dims must be > 0: " + java.util.Arrays.toString(d));
      }
      p *= v;
    }
    return p;
  }

  @Override
  public void close() {
    modules.close();
  }
}
