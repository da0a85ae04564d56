package dev.segcam.backend.cuda;

import static dev.segcam.backend.cuda.KernelArgs.BLOCK;
import static dev.segcam.backend.cuda.KernelArgs.flat;
import static dev.segcam.backend.cuda.KernelArgs.gridFor;
import static dev.segcam.backend.cuda.KernelArgs.need;

import dev.segcam.ir.Op;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ConcatDims;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.ConvKernels;
import dev.segcam.kernels.KernelArgumentException;
import dev.segcam.kernels.LayoutKernels;
import dev.segcam.kernels.PoolKernels;
import dev.segcam.kernels.ResizeDims;
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
    ctx.makeCurrent();
    modules.get(module).launch(kernel, gridFor(total), 1, 1, BLOCK, 1, 1, 0, ctx.stream(), args);
  }

  private static Object opt(DeviceBuffer b) {
    return b == null ? NULL : b;
  }

  /** See {@link KernelArgs#count}. */
  static int count(long n, String what) {
    return KernelArgs.count(n, what);
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

  /** See {@link PoolKernels#pool_fwd}; g is the pooling's geometry (F = C). */
  public void pool_fwd(DeviceBuffer y, DeviceBuffer x, ConvGeometry g, boolean max) {
    int total = count(g.outputSize(), "pool_fwd");
    need("y", y, total);
    need("x", x, g.inputSize());
    launch("pool_fwd", total, flat(y, x, g.n(), window(g), max ? 1 : 0));
  }

  /** See {@link PoolKernels#maxpool_bwd}; g is the forward's (N = x's batch), B dy's batch. */
  public void maxpool_bwd(DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer x, int B, ConvGeometry g) {
    ConvGeometry gb = g.withBatch(B);
    int total = count(gb.inputSize(), "maxpool_bwd");
    need("dx", dx, total);
    need("dy", dy, gb.outputSize());
    need("x", x, g.inputSize());
    tiles(B, g.n(), "maxpool_bwd");
    launch("maxpool_bwd", total, flat(dx, dy, x, B, g.n(), window(g)));
  }

  /** See {@link PoolKernels#avgpool_bwd}; g over dy's batch. */
  public void avgpool_bwd(DeviceBuffer dx, DeviceBuffer dy, ConvGeometry g) {
    int total = count(g.inputSize(), "avgpool_bwd");
    need("dx", dx, total);
    need("dy", dy, g.outputSize());
    launch("avgpool_bwd", total, flat(dx, dy, g.n(), window(g)));
  }

  /** pool.cu's window arguments after the batch: H, W, C, OH, OW, kh, kw, sh, sw, pt, pl. */
  private static Object[] window(ConvGeometry g) {
    return new Object[] {
      g.h(), g.w(), g.c(), g.oh(), g.ow(), g.kh(), g.kw(), g.sh(), g.sw(), g.padT(), g.padL()
    };
  }

  /** See {@link PoolKernels#spatial_mean_bwd}. */
  public void spatial_mean_bwd(DeviceBuffer dx, DeviceBuffer dy, int B, int HW, int C) {
    int total = count((long) B * HW * C, "spatial_mean_bwd");
    need("dx", dx, total);
    need("dy", dy, (long) B * C);
    launch("spatial_mean_bwd", total, dx, dy, B, HW, C);
  }

  /** See {@link ResizeKernels#resize_nearest_fwd}. */
  public void resize_nearest_fwd(DeviceBuffer y, DeviceBuffer x, ResizeDims d) {
    launch(
        "resize_nearest_fwd",
        KernelArgs.resize("resize_nearest_fwd", false, y, x, d),
        KernelArgs.resize(y, x, d));
  }

  /** See {@link ResizeKernels#resize_nearest_bwd}. */
  public void resize_nearest_bwd(DeviceBuffer dx, DeviceBuffer dy, ResizeDims d) {
    launch(
        "resize_nearest_bwd",
        KernelArgs.resize("resize_nearest_bwd", true, dx, dy, d),
        KernelArgs.resize(dx, dy, d));
  }

  /** See {@link LayoutKernels#concat_copy}. */
  public void concat_copy(DeviceBuffer big, DeviceBuffer part, ConcatDims d, boolean backward) {
    int total = count(d.part(), "concat_copy");
    need("part", part, total);
    need("big", big, d.big());
    if (d.offset() < 0 || d.offset() + d.inAxis() > d.outAxis()) {
      throw new KernelArgumentException(
          "concat_copy: ["
              + d.offset()
              + ", "
              + (d.offset() + d.inAxis())
              + ") outside axis "
              + d.outAxis());
    }
    launch("concat_copy", total, flat(big, part, d.args(), backward ? 1 : 0));
  }

  /** See {@link LayoutKernels#binary_fwd}; dims are rank-4 (left-padded with 1). */
  public void binary_fwd(
      DeviceBuffer out, DeviceBuffer a, DeviceBuffer b, int kind, int[] o, int[] ad, int[] bd) {
    int total = count(prod(o), "binary_fwd");
    need("out", out, total);
    need("a", a, prod(ad));
    need("b", b, prod(bd));
    launch("binary_fwd", total, flat(out, a, b, kind, o, ad, bd));
  }

  /**
   * See {@link LayoutKernels#binary_bwd}; a and b may be null for ADD and SUB. The dims come as v =
   * {yd, gd, ad, bd}, as {@link LayoutKernels#binary_bwd_rows} takes them.
   */
  public void binary_bwd(
      DeviceBuffer g,
      DeviceBuffer dy,
      DeviceBuffer a,
      DeviceBuffer b,
      int kind,
      boolean wrtA,
      int[][] v) {
    int[] yd = v[0];
    int[] gd = v[1];
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
      need("a", a, prod(v[2]));
      need("b", b, prod(v[3]));
    }
    launch(
        "binary_bwd", total, flat(g, dy, opt(a), opt(b), kind, wrtA ? 1 : 0, gd, yd, v[2], v[3]));
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
    launch("pad_fwd", total, flat(out, x, value, o, xd, p));
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
    launch("pad_bwd", total, flat(dx, dy, xd, yd, p));
  }

  /** See {@link LayoutKernels#add_inplace}. */
  public void add_inplace(DeviceBuffer acc, DeviceBuffer x, int total) {
    need("acc", acc, total);
    need("x", x, total);
    launch("add_inplace", total, acc, x, total);
  }

  /** See {@link ConvKernels#conv2d_direct_fwd}; the sizes are g's. */
  public void conv2d_direct_fwd(DeviceBuffer y, DeviceBuffer x, DeviceBuffer w, ConvGeometry g) {
    direct("conv2d_direct_fwd", y, g.outputSize(), x, g.inputSize(), w, g);
  }

  /** See {@link ConvKernels#conv2d_direct_bwd_data}; the sizes are g's. */
  public void conv2d_direct_bwd_data(
      DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, ConvGeometry g) {
    direct("conv2d_direct_bwd_data", dx, g.inputSize(), dy, g.outputSize(), w, g);
  }

  private void direct(
      String kernel,
      DeviceBuffer out,
      long outFloats,
      DeviceBuffer in,
      long inFloats,
      DeviceBuffer w,
      ConvGeometry g) {
    int total = count(outFloats, kernel);
    checkGroups(g.c(), g.f(), g.groups());
    need(kernel + " out", out, total);
    need(kernel + " in", in, inFloats);
    need(kernel + " w", w, g.filterSize());
    launch(kernel, total, flat(out, in, w, g.n(), g.h(), g.w(), g.c(), g.f(), convWindow(g)));
  }

  /** conv_direct.cu's arguments after C, F: OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, groups. */
  private static Object[] convWindow(ConvGeometry g) {
    return new Object[] {
      g.oh(), g.ow(), g.kh(), g.kw(), g.sh(), g.sw(), g.dh(), g.dw(), g.padT(), g.padL(), g.groups()
    };
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
