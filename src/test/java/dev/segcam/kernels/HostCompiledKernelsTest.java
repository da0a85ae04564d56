package dev.segcam.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.kernels.CpuKernels.ScoreMode;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;

/**
 * Every kernel of {@code kernels/*.cu}, compiled for the host with g++ ({@link HostKernels}), run
 * on fresh random inputs with the launch geometry of its Java launcher (CudaKernels / CudaGraphOps)
 * and compared element by element with its Java twin in {@link CpuKernels}. This checks the CUDA
 * source's indexing, bounds (AddressSanitizer), block synchronisation and arithmetic without a GPU;
 * PTX, real launches, cuDNN and cuBLAS stay with the {@code @RequiresGpu} tests.
 *
 * <p>Shapes include sizes that are not multiples of the block or warp, and grids with several
 * blocks. Outputs start as random garbage, so an element a kernel forgets to write fails.
 */
@Timeout(value = 600, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HostCompiledKernelsTest {
  /** Same float operations in the same order (g++ -ffp-contract=off as nvcc -fmad=false). */
  static final Tolerance EXACT = new Tolerance(0, 0);

  /**
   * A value formed in double (a sum in another order, or glibc's exp/tanh/expm1 in place of Java's)
   * and rounded once to float: within one float rounding (2^-23 relative) plus the double error of
   * sums of O(1) terms over at most a few thousand elements (far below 1e-10).
   */
  static final Tolerance ONE_ROUNDING = new Tolerance(0x1p-23, 1e-10);

  /** The launchers' block and grid cap (CudaKernels, CudaGraphOps). */
  static final int BLOCK = 256;

  static final int MAX_GRID = 65535;
  static final int WARPS_PER_BLOCK = BLOCK / 32;
  static final int MAX_SEED_BLOCKS = 1024;
  static final int CM_ROWS = 8;

  /** Forward batch N and number of targets K of the tiled backward kernels (B = K·N). */
  static final int N = 2;

  static final int K = 2;

  private static HostKernels host;
  private static boolean skipLogged;
  private final long seed = RandomTensors.freshSeed("HostCompiledKernelsTest");
  private final Random rng = new Random(seed);

  /**
   * A grid cap to launch grid-stride kernels with; MAX_GRID as the launchers do, lowered by {@link
   * #gridStrideLoops} so the loops take more than one step, as they do on the GPU above 65535
   * blocks.
   */
  private int gridCap = MAX_GRID;

  /**
   * The launchers' grid.y for a batch of N samples is min(N, 65535); {@link #batchesPastGridY}
   * lowers the cap so the kernels' loop over samples runs, as it does past 65535 samples.
   */
  private int gridYCap = MAX_GRID;

  /** Compiles the driver on first use; skips (with the reason) where there is no C++ compiler. */
  private static void requireHost() {
    String why = HostKernels.unavailableReason();
    if (why != null && !skipLogged) {
      skipLogged = true;
      System.out.println("[skip] HostCompiledKernelsTest: " + why);
    }
    Assumptions.assumeTrue(why == null, why);
    host = HostKernels.get();
  }

  /** One dynamic test per kernel found in kernels/*.cu; a kernel without a case fails. */
  @TestFactory
  Stream<DynamicTest> everyKernelAgainstItsTwin() {
    Map<String, Runnable> cases = cases();
    List<DynamicTest> tests = new ArrayList<>();
    for (Map.Entry<String, List<String>> f : HostKernels.kernelsByFile().entrySet()) {
      for (String k : f.getValue()) {
        Runnable c = cases.get(k);
        tests.add(
            DynamicTest.dynamicTest(
                f.getKey() + " " + k,
                () -> {
                  requireHost();
                  if (c == null) {
                    fail(
                        k
                            + " in kernels/"
                            + f.getKey()
                            + " has no host-compiled case in HostCompiledKernelsTest");
                  }
                  c.run();
                }));
      }
    }
    return tests.stream();
  }

  /** The grid-stride kernels again with a grid of 2 blocks, so each thread loops. */
  @TestFactory
  Stream<DynamicTest> gridStrideLoops() {
    Map<String, Runnable> cases = cases();
    return Stream.of(
            "resize_bilinear_fwd",
            "resize_bilinear_bwd",
            "scale_normalize",
            "colormap_blend",
            "activation_fwd",
            "guided_relu_bwd",
            "softmax_bwd",
            "maxpool_bwd",
            "binary_bwd",
            "pad_bwd",
            "conv2d_direct_bwd_data")
        .map(
            k ->
                DynamicTest.dynamicTest(
                    k + " with 2 blocks",
                    () -> {
                      requireHost();
                      gridCap = 2;
                      cases.get(k).run();
                    }));
  }

  /**
   * Issue 12 (g): pad_bwd's dy is bounded by nobody but the caller, and a crop out of a padded
   * tensor of 2^31 elements or more must read past int range. dy is a sparse buffer of 2.4·10^9
   * floats (mapped lazily by the driver), non-zero only where the window lies; an int index would
   * overflow (UBSan stops the driver) or read elsewhere.
   */
  @org.junit.jupiter.api.Test
  void padBwdIndexesDyPast2To31() {
    requireHost();
    int[] yd = {1, 3, 40_000, 20_000};
    int[] xd = {1, 1, 2, 3};
    int[] p = {0, 2, 39_997, 19_990};
    long dyElements = (long) yd[0] * yd[1] * yd[2] * yd[3];
    int total = xd[0] * xd[1] * xd[2] * xd[3];
    long[] index = new long[total];
    float[] ref = normal(total);
    for (int c2 = 0, i = 0; c2 < xd[2]; c2++) {
      for (int c3 = 0; c3 < xd[3]; c3++, i++) {
        index[i] = (((long) p[0] * yd[1] + p[1]) * yd[2] + c2 + p[2]) * yd[3] + c3 + p[3];
      }
    }
    org.junit.jupiter.api.Assertions.assertTrue(index[0] > Integer.MAX_VALUE, "past int range");
    HostKernels.Sparse dy = new HostKernels.Sparse(dyElements, index, ref);
    float[] got = garbage(total);
    launch1d(
        "pad_bwd", total, got, dy, xd[0], xd[1], xd[2], xd[3], yd[0], yd[1], yd[2], yd[3], p[0],
        p[1], p[2], p[3]);
    check(EXACT, at("pad_bwd with dy of " + dyElements + " elements", xd, p), ref, got);
  }

  /** Issue 12 (f): kernels that put the sample on grid.y loop over samples past its limit. */
  @TestFactory
  Stream<DynamicTest> batchesPastGridY() {
    Map<String, Runnable> cases = cases();
    return Stream.of("masked_score_seed", "channel_mean", "gradcampp_weights", "xgradcam_weights")
        .map(
            k ->
                DynamicTest.dynamicTest(
                    k + " with grid.y 2",
                    () -> {
                      requireHost();
                      gridYCap = 2;
                      cases.get(k).run();
                    }));
  }

  private Map<String, Runnable> cases() {
    Map<String, Runnable> m = new LinkedHashMap<>();
    m.put("masked_score_seed", this::maskedScoreSeed);
    m.put("argmax_channels", this::argmaxChannels);
    m.put("region_mask", this::regionMask);
    m.put("masked_score_reduce", this::maskedScoreReduce);
    m.put("channel_mean", () -> channelWeights("channel_mean"));
    m.put("gradcampp_weights", () -> channelWeights("gradcampp_weights"));
    m.put("xgradcam_weights", () -> channelWeights("xgradcam_weights"));
    m.put("weighted_sum_relu", this::weightedSumRelu);
    m.put("elementwise_sum_relu", this::elementwiseSumRelu);
    m.put("resize_bilinear_fwd", () -> resizeBilinear(false));
    m.put("resize_bilinear_bwd", () -> resizeBilinear(true));
    m.put("minmax_normalize", this::minmaxNormalize);
    m.put("scale_normalize", this::scaleNormalize);
    m.put("colormap_blend", this::colormapBlend);
    GraphOpCases g = new GraphOpCases();
    m.put("channel_affine", g::channelAffine);
    m.put("channel_scale_bwd", g::channelScaleBwd);
    m.put("activation_fwd", g::activationFwd);
    m.put("activation_bwd", g::activationBwd);
    m.put("guided_relu_bwd", g::guidedReluBwd);
    m.put("softmax_fwd", g::softmaxFwd);
    m.put("softmax_bwd", g::softmaxBwd);
    m.put("log_softmax_fwd", g::logSoftmaxFwd);
    m.put("log_softmax_bwd", g::logSoftmaxBwd);
    m.put("pool_fwd", g::poolFwd);
    m.put("maxpool_bwd", () -> g.poolBwd(true));
    m.put("avgpool_bwd", () -> g.poolBwd(false));
    m.put("spatial_mean_bwd", g::spatialMeanBwd);
    m.put("resize_nearest_fwd", () -> g.resizeNearest(false));
    m.put("resize_nearest_bwd", () -> g.resizeNearest(true));
    m.put("concat_copy", g::concatCopy);
    m.put("binary_fwd", g::binaryFwd);
    m.put("binary_bwd", g::binaryBwd);
    m.put("pad_fwd", g::padFwd);
    m.put("pad_bwd", g::padBwd);
    m.put("strided_slice_fwd", () -> stridedSlice(false));
    m.put("strided_slice_bwd", () -> stridedSlice(true));
    m.put("reduce_fwd", () -> reduce(false));
    m.put("reduce_bwd", () -> reduce(true));
    m.put("reduce_extreme_bwd", this::reduceExtremeBwd);
    m.put("transpose_copy", this::transpose);
    m.put("add_inplace", g::addInplace);
    m.put("conv2d_direct_fwd", () -> g.conv(false));
    m.put("conv2d_direct_bwd_data", () -> g.conv(true));
    m.put("exp_fwd", g::expFwd);
    m.put("exp_bwd", g::expBwd);
    m.put("unary_fwd", () -> g.unary(false));
    m.put("unary_bwd", () -> g.unary(true));
    m.put("batch_matmul", g::batchMatmul);
    return m;
  }

  // --- helpers -----------------------------------------------------------------------------------

  /** CudaKernels.gridFor / CudaGraphOps.launch: one thread per element, capped grid. */
  private int gridFor(long total) {
    return (int) Math.max(1, Math.min(gridCap, (total + BLOCK - 1) / BLOCK));
  }

  /** A grid-stride launch with block 256 (every graph op and most CAM kernels). */
  private void launch1d(String kernel, long total, Object... args) {
    host.launch(kernel, gridFor(total), 1, BLOCK, 1, args);
  }

  private float[] normal(long n) {
    float[] a = new float[Math.toIntExact(n)];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) rng.nextGaussian();
    }
    return a;
  }

  private float[] uniform(long n, float lo, float hi) {
    float[] a = new float[Math.toIntExact(n)];
    for (int i = 0; i < a.length; i++) {
      a[i] = lo + (hi - lo) * rng.nextFloat();
    }
    return a;
  }

  /** An output buffer before the launch: garbage, so an element left unwritten shows. */
  private float[] garbage(long n) {
    return uniform(n, -1e3f, 1e3f);
  }

  private String at(String kernel, Object... shape) {
    return kernel + " " + Arrays.deepToString(shape) + " (seed " + seed + ")";
  }

  private static void check(Tolerance tol, String what, float[] ref, float[] got) {
    tol.assertClose(what, ref, got);
  }

  // --- strided_slice.cu --------------------------------------------------------------------------

  /**
   * Slices as the importer makes them: a Cropping2D crop, negative steps with a masked reversed
   * axis, a shrunk axis with a new one, rank 2, rank 5, and a slice with an empty axis. The
   * geometry comes from {@link dev.segcam.ir.Slicing}, rank-5 padded as the launchers do.
   */
  private void stridedSlice(boolean backward) {
    Object[][] cases = {
      {
        new int[] {N, 9, 11, 3},
        ss(
            new int[] {0, 1, 2, 0},
            new int[] {0, -2, -1, 0},
            new int[] {1, 1, 1, 1},
            0b1001,
            0b1001,
            0)
      },
      {
        new int[] {N, 9, 11, 3},
        ss(
            new int[] {0, 0, 9, 0},
            new int[] {0, 0, 0, 0},
            new int[] {1, -1, -3, 1},
            0b1011,
            0b1001,
            0)
      },
      {
        new int[] {N, 6, 70, 5},
        ss(
            new int[] {0, -2, 3, 1},
            new int[] {0, 0, 60, 5},
            new int[] {1, 1, 2, 2},
            0b0001,
            0b0001,
            0b0010)
      },
      {
        new int[] {N, 300},
        ss(new int[] {0, 299}, new int[] {0, 0}, new int[] {1, -7}, 0b01, 0b11, 0)
      },
      {
        new int[] {N, 3, 4, 5, 6},
        ss(
            new int[] {0, 1, 0, 4, 1},
            new int[] {0, 3, 4, 0, 6},
            new int[] {1, 1, 3, -1, 2},
            0b00001,
            0b00001,
            0)
      },
      {
        new int[] {N, 5, 5, 2},
        ss(
            new int[] {0, 3, 0, 0},
            new int[] {0, 1, 5, 2},
            new int[] {1, 1, 1, 1},
            0b0001,
            0b0001,
            0)
      },
    };
    for (Object[] c : cases) {
      int[] xd = ((int[]) c[0]).clone();
      if (backward) {
        xd[0] = K * N; // the gradient batch
      }
      dev.segcam.ir.Op.StridedSlice op = (dev.segcam.ir.Op.StridedSlice) c[1];
      dev.segcam.ir.Slicing.Geometry geo =
          dev.segcam.ir.Slicing.geometry(op, dev.segcam.ir.Shape.of(xd));
      int[] cd = StridedSliceKernels.pad5(geo.count(), 1);
      int[] x5 = StridedSliceKernels.pad5(xd, 1);
      int[] b = StridedSliceKernels.pad5(geo.start(), 0);
      int[] st = StridedSliceKernels.pad5(geo.step(), 1);
      int xTotal = Arrays.stream(x5).reduce(1, (u, v) -> u * v);
      int cTotal = Arrays.stream(cd).reduce(1, (u, v) -> u * v);
      String kernel = backward ? "strided_slice_bwd" : "strided_slice_fwd";
      float[] in = normal(backward ? cTotal : xTotal);
      int outTotal = backward ? xTotal : cTotal;
      float[] ref = new float[outTotal];
      float[] got = garbage(outTotal);
      int[] d1 = backward ? x5 : cd;
      int[] d2 = backward ? cd : x5;
      if (backward) {
        StridedSliceKernels.strided_slice_bwd(ref, in, d1, d2, b, st);
      } else {
        StridedSliceKernels.strided_slice_fwd(ref, in, d1, d2, b, st);
      }
      launch1d(
          kernel, outTotal, got, in, d1[0], d1[1], d1[2], d1[3], d1[4], d2[0], d2[1], d2[2], d2[3],
          d2[4], b[0], b[1], b[2], b[3], b[4], st[0], st[1], st[2], st[3], st[4]);
      check(EXACT, at(kernel, xd, op), ref, got);
    }
  }

  // --- reduce.cu ---------------------------------------------------------------------------------

  /** Sum and Mean over one, several, trailing and inner axes, ranks 2 to 5. */
  private void reduce(boolean backward) {
    int[][] shapes = {{N, 9, 11, 3}, {N, 9, 11, 3}, {N, 300}, {N, 3, 4, 5, 6}, {N, 7, 1, 40}};
    int[] masks = {0b1000, 0b0110, 0b10, 0b10110, 0b1110};
    for (int c = 0; c < shapes.length; c++) {
      int[] kinds =
          backward
              ? new int[] {ReduceKernels.RED_SUM, ReduceKernels.RED_MEAN}
              : new int[] {
                ReduceKernels.RED_SUM,
                ReduceKernels.RED_MEAN,
                ReduceKernels.RED_MAX,
                ReduceKernels.RED_MIN
              };
      for (int kind : kinds) {
        int[] xd = shapes[c].clone();
        if (backward) {
          xd[0] = K * N; // the gradient batch
        }
        int[] x5 = StridedSliceKernels.pad5(xd, 1);
        int[] m = ReduceKernels.flags(masks[c], xd.length);
        int xTotal = Arrays.stream(x5).reduce(1, (u, v) -> u * v);
        int yTotal = ReduceKernels.outTotal(x5, m);
        String kernel = backward ? "reduce_bwd" : "reduce_fwd";
        float[] in = normal(backward ? yTotal : xTotal);
        int outTotal = backward ? xTotal : yTotal;
        float[] ref = new float[outTotal];
        float[] got = garbage(outTotal);
        if (backward) {
          ReduceKernels.reduce_bwd(ref, in, kind, x5, m);
        } else {
          ReduceKernels.reduce_fwd(ref, in, kind, x5, m);
        }
        launch1d(
            kernel, outTotal, got, in, kind, x5[0], x5[1], x5[2], x5[3], x5[4], m[0], m[1], m[2],
            m[3], m[4]);
        check(EXACT, at(kernel, xd, Integer.toBinaryString(masks[c]), kind), ref, got);
      }
    }
  }

  /**
   * Max and Min gradients over the shapes of {@link #reduce}, on inputs rounded to halves so that
   * groups hold ties (dy shared among them), the values tiled over K targets.
   */
  private void reduceExtremeBwd() {
    int[][] shapes = {{N, 9, 11, 3}, {N, 9, 11, 3}, {N, 300}, {N, 3, 4, 5, 6}, {N, 7, 1, 40}};
    int[] masks = {0b1000, 0b0110, 0b10, 0b10110, 0b1110};
    for (int c = 0; c < shapes.length; c++) {
      for (int kind : new int[] {ReduceKernels.RED_MAX, ReduceKernels.RED_MIN}) {
        int[] x5 = StridedSliceKernels.pad5(shapes[c], 1);
        int[] m = ReduceKernels.flags(masks[c], shapes[c].length);
        int xTotal = Arrays.stream(x5).reduce(1, (u, v) -> u * v);
        int yTotal = ReduceKernels.outTotal(x5, m);
        float[] x = normal(xTotal);
        for (int i = 0; i < x.length; i++) {
          x[i] = Math.round(x[i] * 2) / 2f;
        }
        float[] y = new float[yTotal];
        ReduceKernels.reduce_fwd(y, x, kind, x5, m);
        int[] gd = shapes[c].clone();
        gd[0] = K * N; // the gradient batch
        int[] g5 = StridedSliceKernels.pad5(gd, 1);
        float[] dy = normal(K * yTotal);
        float[] ref = new float[K * xTotal];
        float[] got = garbage(K * xTotal);
        ReduceKernels.reduce_extreme_bwd(ref, dy, x, y, xTotal, g5, m);
        launch1d(
            "reduce_extreme_bwd",
            ref.length,
            got,
            dy,
            x,
            y,
            xTotal,
            g5[0],
            g5[1],
            g5[2],
            g5[3],
            g5[4],
            m[0],
            m[1],
            m[2],
            m[3],
            m[4]);
        check(
            EXACT,
            at("reduce_extreme_bwd", shapes[c], Integer.toBinaryString(masks[c]), kind),
            ref,
            got);
      }
    }
  }

  // --- transpose.cu ------------------------------------------------------------------------------

  /** Permutations of ranks 2 to 5 (the batch first), the strides as the launchers compute them. */
  private void transpose() {
    int[][] shapes = {{N, 9, 11, 3}, {N, 9, 11, 3}, {K * N, 300, 7}, {N, 3, 4, 5, 6}, {N, 1, 70}};
    int[][] perms = {{0, 3, 1, 2}, {0, 2, 3, 1}, {0, 2, 1}, {0, 4, 2, 1, 3}, {0, 1, 2}};
    for (int c = 0; c < shapes.length; c++) {
      int[] xd = shapes[c];
      List<Integer> perm = Arrays.stream(perms[c]).boxed().toList();
      int[] od = new int[xd.length];
      for (int d = 0; d < od.length; d++) {
        od[d] = xd[perm.get(d)];
      }
      int[] o = StridedSliceKernels.pad5(od, 1);
      int[] p = TransposeKernels.permutedStrides(xd, perm);
      int total = Arrays.stream(xd).reduce(1, (u, v) -> u * v);
      float[] x = normal(total);
      float[] ref = new float[total];
      float[] got = garbage(total);
      TransposeKernels.transpose_copy(
          ref, x, o[0], o[1], o[2], o[3], o[4], p[0], p[1], p[2], p[3], p[4]);
      launch1d(
          "transpose_copy",
          total,
          got,
          x,
          o[0],
          o[1],
          o[2],
          o[3],
          o[4],
          p[0],
          p[1],
          p[2],
          p[3],
          p[4]);
      check(EXACT, at("transpose_copy", xd, perm), ref, got);
    }
  }

  private static dev.segcam.ir.Op.StridedSlice ss(
      int[] begin, int[] end, int[] strides, int beginMask, int endMask, int shrinkMask) {
    return new dev.segcam.ir.Op.StridedSlice(
        begin, end, strides, beginMask, endMask, shrinkMask, new int[0]);
  }

  // --- seed.cu -----------------------------------------------------------------------------------

  private void maskedScoreSeed() {
    int[][] shapes = {{2, 5, 7, 3}, {1, 17, 19, 1}, {3, 4, 4, 5}, {2, 1, 1, 2}, {5, 3, 3, 2}};
    for (int[] s : shapes) {
      for (ScoreMode mode : ScoreMode.values()) {
        int n = s[0], h = s[1], w = s[2], c = s[3];
        int hw = h * w;
        float[] logits = normal((long) n * hw * c);
        float[] mask = uniform((long) n * hw, -0.5f, 1f);
        for (int i = 0; i < mask.length; i++) {
          mask[i] = Math.max(mask[i], 0f); // about a third outside M
        }
        int[] cls = new int[n];
        for (int i = 0; i < n; i++) {
          cls[i] = rng.nextInt(c == 1 ? 2 : c);
        }
        float[] score = new float[n];
        float[] seedRef = new float[n * hw * c];
        CpuKernels.masked_score_seed(score, seedRef, logits, mask, cls, n, h, w, c, mode);
        int blocks = (int) Math.max(1, Math.min(MAX_SEED_BLOCKS, (hw + BLOCK - 1) / BLOCK));
        double[] partial = new double[n * blocks];
        float[] seedGot = garbage(seedRef.length);
        float[] scoreGot = garbage(n);
        host.launch(
            "masked_score_seed",
            blocks,
            Math.min(n, gridYCap),
            BLOCK,
            1,
            partial,
            seedGot,
            logits,
            mask,
            cls,
            n,
            h,
            w,
            c,
            mode.code);
        host.launch("masked_score_reduce", n, 1, BLOCK, 1, scoreGot, partial, n, blocks);
        check(ONE_ROUNDING, at("masked_score_seed seed", s, mode), seedRef, seedGot);
        check(ONE_ROUNDING, at("masked_score_seed score", s, mode), score, scoreGot);
      }
    }
  }

  /** Label maps: ties (lowest index wins), NaNs, and the single-channel sigmoid rule. */
  private void argmaxChannels() {
    for (int[] s : new int[][] {{1, 1}, {37, 1}, {600, 5}, {300, 124}}) {
      int p = s[0];
      int c = s[1];
      float[] logits = normal((long) p * c);
      if (c > 2 && p > 3) {
        logits[1 * c + 2] = logits[1 * c + 1]; // a tie on row 1 (may or may not be its max)
        java.util.Arrays.fill(logits, 2 * c, 3 * c, 0.25f); // an all-equal row: class 0
        logits[3 * c] = Float.NaN; // NaN on channel 0 never loses to '>'
      }
      float[] ref = new float[p];
      float[] got = garbage(p);
      CpuKernels.argmax_channels(ref, logits, p, c);
      launch1d("argmax_channels", p, got, logits, p, c);
      check(EXACT, at("argmax_channels", s), ref, got);
    }
  }

  /** Region masks of every kind over several images, boxes from empty to the whole grid. */
  private void regionMask() {
    for (int[] s : new int[][] {{1, 1, 1, 1}, {2, 5, 7, 6}, {3, 2, 33, 17}}) {
      int n = s[0];
      int r = n * s[1];
      int h = s[2];
      int w = s[3];
      float[] labels = new float[n * h * w];
      for (int i = 0; i < labels.length; i++) {
        labels[i] = rng.nextInt(4);
      }
      int[] spec = new int[r * CpuKernels.REGION_SPEC];
      for (int row = 0; row < r; row++) {
        int o = row * CpuKernels.REGION_SPEC;
        spec[o] = row % 3; // ZERO, PREDICTED, BOX
        spec[o + 1] = rng.nextInt(4);
        spec[o + 2] = rng.nextInt(w);
        spec[o + 3] = rng.nextInt(h);
        spec[o + 4] = spec[o + 2] + rng.nextInt(w - spec[o + 2] + 1);
        spec[o + 5] = spec[o + 3] + rng.nextInt(h - spec[o + 3] + 1);
      }
      float[] ref = new float[r * h * w];
      float[] got = garbage(ref.length);
      CpuKernels.region_mask(ref, labels, spec, r, n, h, w);
      launch1d("region_mask", ref.length, got, labels, spec, r, n, h, w);
      check(EXACT, at("region_mask", s), ref, got);
    }
  }

  private void maskedScoreReduce() {
    for (int[] s : new int[][] {{1, 1}, {3, 7}, {2, 300}, {1, 1024}}) {
      int n = s[0], b = s[1];
      double[] partial = new double[n * b];
      float[] ref = new float[n];
      for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int j = 0; j < b; j++) {
          partial[i * b + j] = rng.nextGaussian();
          sum += partial[i * b + j];
        }
        ref[i] = (float) sum;
      }
      float[] got = garbage(n);
      host.launch("masked_score_reduce", n, 1, BLOCK, 1, got, partial, n, b);
      check(ONE_ROUNDING, at("masked_score_reduce", s), ref, got);
    }
  }

  // --- channel_mean.cu ---------------------------------------------------------------------------

  private void channelWeights(String kernel) {
    int[][] shapes = {{2, 3, 5, 7}, {1, 9, 11, 40}, {3, 2, 2, 33}, {1, 1, 1, 1}, {5, 3, 2, 3}};
    float eps = 1e-3f;
    for (int[] s : shapes) {
      int n = s[0], h = s[1], w = s[2], k = s[3];
      long size = (long) n * h * w * k;
      float[] acts = uniform(size, 0f, 2f); // activations after a ReLU
      float[] grads = normal(size);
      float[] ref = new float[n * k];
      float[] got = garbage(n * k);
      int gx = (k + 31) / 32;
      int gy = Math.min(n, gridYCap);
      switch (kernel) {
        case "channel_mean" -> {
          CpuKernels.channel_mean(ref, grads, n, h, w, k);
          host.launch(kernel, gx, gy, 32, CM_ROWS, got, grads, n, h, w, k);
        }
        case "gradcampp_weights" -> {
          CpuKernels.gradcampp_weights(ref, acts, grads, n, h, w, k);
          host.launch(kernel, gx, gy, 32, CM_ROWS, got, acts, grads, n, h, w, k);
        }
        default -> {
          CpuKernels.xgradcam_weights(ref, acts, grads, n, h, w, k, eps);
          host.launch(kernel, gx, gy, 32, CM_ROWS, got, acts, grads, n, h, w, k, eps);
        }
      }
      check(ONE_ROUNDING, at(kernel, s), ref, got);
    }
  }

  // --- weighted_sum.cu ---------------------------------------------------------------------------

  private static final int[][] CAM_SHAPES = {
    {2, 3, 5, 7}, {1, 4, 5, 70}, {3, 3, 3, 32}, {1, 1, 1, 1}
  };

  private void weightedSumRelu() {
    for (int[] s : CAM_SHAPES) {
      int n = s[0], h = s[1], w = s[2], k = s[3];
      float[] acts = uniform((long) n * h * w * k, 0f, 2f);
      float[] alpha = normal((long) n * k);
      float[] ref = new float[n * h * w];
      float[] got = garbage(ref.length);
      CpuKernels.weighted_sum_relu(ref, acts, alpha, n, h, w, k);
      int grid = (n * h * w + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
      host.launch("weighted_sum_relu", grid, 1, BLOCK, 1, got, acts, alpha, n, h, w, k);
      check(ONE_ROUNDING, at("weighted_sum_relu", s), ref, got);
    }
  }

  private void elementwiseSumRelu() {
    for (int[] s : CAM_SHAPES) {
      for (boolean relu : new boolean[] {false, true}) {
        int n = s[0], h = s[1], w = s[2], k = s[3];
        float[] acts = uniform((long) n * h * w * k, 0f, 2f);
        float[] grads = normal((long) n * h * w * k);
        float[] ref = new float[n * h * w];
        float[] got = garbage(ref.length);
        CpuKernels.elementwise_sum_relu(ref, acts, grads, n, h, w, k, relu);
        int grid = (n * h * w + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
        host.launch(
            "elementwise_sum_relu", grid, 1, BLOCK, 1, got, acts, grads, n, h, w, k, relu ? 1 : 0);
        check(ONE_ROUNDING, at("elementwise_sum_relu", s, relu), ref, got);
      }
    }
  }

  // --- resize.cu ---------------------------------------------------------------------------------

  private void resizeBilinear(boolean backward) {
    int[][] shapes = {
      {2, 5, 7, 3, 11, 4}, {1, 8, 8, 2, 3, 17}, {1, 1, 6, 2, 4, 6}, {1, 3, 3, 1, 1, 1}
    };
    boolean[][] flags = {{false, false}, {true, false}, {false, true}};
    for (int[] s : shapes) {
      for (boolean[] f : flags) {
        int n = s[0], h = s[1], w = s[2], c = s[3], oh = s[4], ow = s[5];
        long in = (long) n * h * w * c;
        long out = (long) n * oh * ow * c;
        int a = f[0] ? 1 : 0, hp = f[1] ? 1 : 0;
        if (!backward) {
          float[] x = normal(in);
          float[] ref = new float[(int) out];
          float[] got = garbage(out);
          ResizeKernels.resize_bilinear_fwd(ref, x, new ResizeDims(n, h, w, c, oh, ow, f[0], f[1]));
          launch1d("resize_bilinear_fwd", out, got, x, n, h, w, c, oh, ow, a, hp);
          check(EXACT, at("resize_bilinear_fwd", s, f), ref, got);
        } else {
          float[] dy = normal(out);
          float[] ref = new float[(int) in];
          float[] got = garbage(in);
          ResizeKernels.resize_bilinear_bwd(
              ref, dy, new ResizeDims(n, h, w, c, oh, ow, f[0], f[1]));
          launch1d("resize_bilinear_bwd", in, got, dy, n, h, w, c, oh, ow, a, hp);
          check(ONE_ROUNDING, at("resize_bilinear_bwd", s, f), ref, got);
        }
      }
    }
  }

  // --- normalize.cu ------------------------------------------------------------------------------

  private void minmaxNormalize() {
    for (int[] s : new int[][] {{2, 5, 7}, {1, 20, 30}, {3, 1, 1}}) {
      int n = s[0], h = s[1], w = s[2];
      float[] maps = normal((long) n * h * w);
      float[] ref = new float[maps.length];
      float[] got = garbage(maps.length);
      CpuKernels.minmax_normalize(ref, maps, n, h, w);
      host.launch("minmax_normalize", n, 1, BLOCK, 1, got, maps, n, h, w);
      check(EXACT, at("minmax_normalize", s), ref, got);
      // in place, as the CAM pipeline calls it
      float[] inPlace = maps.clone();
      host.launch("minmax_normalize", n, 1, BLOCK, 1, inPlace, inPlace, n, h, w);
      check(EXACT, at("minmax_normalize in place", s), ref, inPlace);
    }
  }

  private void scaleNormalize() {
    for (int[] s : new int[][] {{2, 5, 7}, {1, 20, 30}, {3, 1, 1}}) {
      int n = s[0], h = s[1], w = s[2];
      float[] maps = normal((long) n * h * w);
      maps[0] = Float.NaN;
      float scale = 0.1f + rng.nextFloat();
      float[] ref = new float[maps.length];
      float[] got = garbage(maps.length);
      CpuKernels.scale_normalize(ref, maps, n, h, w, scale);
      launch1d("scale_normalize", maps.length, got, maps, n, h, w, scale);
      check(EXACT, at("scale_normalize", s), ref, got);
    }
  }

  // --- colormap.cu -------------------------------------------------------------------------------

  private void colormapBlend() {
    for (int[] s : new int[][] {{5, 7}, {17, 31}, {1, 1}}) {
      int h = s[0], w = s[1];
      int hw = h * w;
      float[] map = uniform(hw, -0.2f, 1.2f);
      map[0] = Float.NaN;
      byte[] image = new byte[3 * hw];
      rng.nextBytes(image);
      float alpha = rng.nextFloat();
      byte[] ref = new byte[4 * hw];
      byte[] got = new byte[4 * hw];
      rng.nextBytes(got);
      ColormapKernels.colormap_blend(ref, map, image, h, w, alpha);
      launch1d("colormap_blend", hw, got, map, image, h, w, alpha);
      for (int i = 0; i < ref.length; i++) {
        assertEquals(ref[i] & 0xFF, got[i] & 0xFF, at("colormap_blend byte " + i, s, alpha));
      }
    }
  }

  // --- graph ops ---------------------------------------------------------------------------------

  /**
   * The kernels of the IR ops (activations, softmax, pooling, resize, concat/pad, binary, conv).
   */
  private final class GraphOpCases {
    void channelAffine() {
      for (int[] s : new int[][] {{7, 3}, {300, 5}, {1, 1}}) {
        int rows = s[0], c = s[1], total = rows * c;
        float[] x = normal(total);
        float[] scale = normal(c);
        float[] offset = normal(c);
        for (int variant = 0; variant < 4; variant++) {
          float[] sc = (variant & 1) != 0 ? scale : null;
          float[] of = (variant & 2) != 0 ? offset : null;
          float[] ref = new float[total];
          ActivationKernels.channel_affine(ref, x, sc, of, total, c);
          float[] got = garbage(total);
          launch1d("channel_affine", total, got, x, sc, of, total, c);
          check(EXACT, at("channel_affine", s, variant), ref, got);
          float[] inPlace = x.clone();
          launch1d("channel_affine", total, inPlace, inPlace, sc, of, total, c);
          check(EXACT, at("channel_affine in place", s, variant), ref, inPlace);
        }
      }
    }

    void channelScaleBwd() {
      for (int[] s : new int[][] {{7, 3}, {300, 5}}) {
        int total = s[0] * s[1];
        float[] dy = normal(total);
        float[] scale = normal(s[1]);
        float[] ref = new float[total];
        float[] got = garbage(total);
        ActivationKernels.channel_scale_bwd(ref, dy, scale, total, s[1]);
        launch1d("channel_scale_bwd", total, got, dy, scale, total, s[1]);
        check(EXACT, at("channel_scale_bwd", s), ref, got);
      }
    }

    /** The activation codes of activation.cu (ACT_RELU, ACT_RELU6, ...). */
    private final Map<String, Integer> acts = HostKernels.codes("ACT_");

    /** Relu, Relu6, LeakyRelu are float-exact; Elu, Sigmoid, Tanh go through a libm in double. */
    private Tolerance activationTolerance(String kind) {
      return Set.of("ACT_RELU", "ACT_RELU6", "ACT_LEAKY").contains(kind) ? EXACT : ONE_ROUNDING;
    }

    /** Normal values times 4 (so Relu6 clips), with the kinks 0 and 6 present. */
    private float[] activationInput(int total) {
      float[] x = normal(total);
      for (int i = 0; i < total; i++) {
        x[i] *= 4f;
      }
      x[0] = 0f;
      x[total - 1] = 6f;
      return x;
    }

    void activationFwd() {
      for (int total : new int[] {1, 37, 1000}) {
        float[] x = activationInput(Math.max(total, 2));
        for (Map.Entry<String, Integer> act : acts.entrySet()) {
          int kind = act.getValue();
          float alpha = 0.2f;
          float[] ref = new float[x.length];
          float[] got = garbage(x.length);
          ActivationKernels.activation_fwd(ref, x, x.length, kind, alpha);
          launch1d("activation_fwd", x.length, got, x, x.length, kind, alpha);
          check(
              activationTolerance(act.getKey()),
              at("activation_fwd", x.length, act.getKey()),
              ref,
              got);
        }
      }
    }

    void activationBwd() {
      for (int valueTotal : new int[] {2, 37, 600}) {
        float[] v = activationInput(valueTotal);
        int total = K * valueTotal;
        float[] dy = normal(total);
        for (Map.Entry<String, Integer> act : acts.entrySet()) {
          int kind = act.getValue();
          float[] ref = new float[total];
          float[] got = garbage(total);
          ActivationKernels.activation_bwd(ref, dy, v, total, valueTotal, kind, 0.2f);
          launch1d("activation_bwd", total, got, dy, v, total, valueTotal, kind, 0.2f);
          check(EXACT, at("activation_bwd", valueTotal, act.getKey()), ref, got);
        }
      }
    }

    /** The guided ReLU gradient: only Relu and Relu6, float-exact (a select, no arithmetic). */
    void guidedReluBwd() {
      for (int valueTotal : new int[] {2, 37, 600}) {
        float[] x = activationInput(valueTotal);
        int total = K * valueTotal;
        float[] dy = normal(total);
        dy[1] = 0f; // the dy > 0 boundary
        for (String name : List.of("ACT_RELU", "ACT_RELU6")) {
          int kind = acts.get(name);
          float[] ref = new float[total];
          float[] got = garbage(total);
          ActivationKernels.guided_relu_bwd(ref, dy, x, total, valueTotal, kind);
          launch1d("guided_relu_bwd", total, got, dy, x, total, valueTotal, kind);
          check(EXACT, at("guided_relu_bwd", valueTotal, name), ref, got);
        }
      }
    }

    void expFwd() {
      for (int total : new int[] {1, 37, 1000}) {
        float[] x = normal(total);
        float[] ref = new float[total];
        float[] got = garbage(total);
        ExpKernels.exp_fwd(ref, x, total);
        launch1d("exp_fwd", total, got, x, total);
        check(ONE_ROUNDING, at("exp_fwd", total), ref, got);
      }
    }

    void expBwd() {
      for (int valueTotal : new int[] {1, 37, 600}) {
        int total = K * valueTotal;
        float[] y = uniform(valueTotal, 0.1f, 3f);
        float[] dy = normal(total);
        float[] ref = new float[total];
        float[] got = garbage(total);
        ExpKernels.exp_bwd(ref, dy, y, total, valueTotal);
        launch1d("exp_bwd", total, got, dy, y, total, valueTotal);
        check(EXACT, at("exp_bwd", valueTotal), ref, got);
      }
    }

    /**
     * Every transpose combination, the forward's equal batches and the backward's K·N gradient
     * batch over N-sample values on either side, odd sizes: the same k-ordered float sum.
     */
    void batchMatmul() {
      int[][] sizes = {{1, 1, 1}, {5, 7, 3}, {17, 9, 33}};
      for (int[] mnk : sizes) {
        int m = mnk[0];
        int n = mnk[1];
        int k = mnk[2];
        for (int ta = 0; ta < 2; ta++) {
          for (int tb = 0; tb < 2; tb++) {
            for (int[] ab : new int[][] {{N, N}, {K * N, N}, {N, K * N}}) {
              int batch = Math.max(ab[0], ab[1]);
              int total = batch * m * n;
              float[] a = normal((long) ab[0] * m * k);
              float[] b = normal((long) ab[1] * k * n);
              float[] ref = new float[total];
              float[] got = garbage(total);
              MatMulKernels.batch_matmul(
                  ref,
                  new MatMulKernels.Operands<>(
                      a, b, ab[0], ab[1], new MatMulKernels.Call(true, m, n, k, ta, tb)));
              launch1d("batch_matmul", total, got, a, b, total, m, n, k, ab[0], ab[1], ta, tb);
              check(EXACT, at("batch_matmul", m, n, k, ab[0], ab[1], ta, tb), ref, got);
            }
          }
        }
      }
    }

    /** The unary op codes of unary.cu (UN_*), every one of them. */
    private final Map<String, Integer> unaries = HostKernels.codes("UN_");

    /** Two float roundings: a libm value (pow, exp) times dy, rounded again. */
    private static final Tolerance TWO_ROUNDINGS = new Tolerance(0x1p-22, 1e-10);

    /** Inputs in each kind's domain: positive where sqrt/rsqrt/log/pow of a fraction need it. */
    private float[] unaryInput(long n, Op.UnaryKind k) {
      return switch (k) {
        case SQRT, RSQRT, LOG, POW -> uniform(n, 0.05f, 4f);
        case SELU, SOFTPLUS, ERF -> uniform(n, -5f, 5f);
        default -> normal(n);
      };
    }

    void unary(boolean backward) {
      for (int valueTotal : new int[] {1, 37, 600}) {
        for (Map.Entry<String, Integer> un : unaries.entrySet()) {
          int kind = un.getValue();
          Op.UnaryKind k = Op.UnaryKind.ofCode(kind);
          float p = 2.5f;
          float[] x = unaryInput(valueTotal, k);
          if (!backward) {
            float[] ref = new float[valueTotal];
            float[] got = garbage(valueTotal);
            UnaryKernels.unary_fwd(ref, x, valueTotal, kind, p);
            launch1d("unary_fwd", valueTotal, got, x, valueTotal, kind, p);
            check(ONE_ROUNDING, at("unary_fwd", valueTotal, un.getKey()), ref, got);
            continue;
          }
          // the value the gradient reads: x, or y = f(x) (NEG reads none: any buffer)
          float[] v = x;
          if (k.gradReads == Op.GradReads.OUTPUT) {
            v = new float[valueTotal];
            UnaryKernels.unary_fwd(v, x, valueTotal, kind, p);
          }
          int total = K * valueTotal;
          float[] dy = normal(total);
          float[] ref = new float[total];
          float[] got = garbage(total);
          UnaryKernels.unary_bwd(ref, dy, v, total, valueTotal, kind, p);
          launch1d("unary_bwd", total, got, dy, v, total, valueTotal, kind, p);
          check(TWO_ROUNDINGS, at("unary_bwd", valueTotal, un.getKey()), ref, got);
        }
      }
    }

    void softmaxFwd() {
      for (int[] s : new int[][] {{1, 1}, {7, 3}, {300, 21}}) {
        float[] x = normal(s[0] * s[1]);
        float[] ref = new float[x.length];
        float[] got = garbage(x.length);
        ActivationKernels.softmax_fwd(ref, x, s[0], s[1]);
        launch1d("softmax_fwd", s[0], got, x, s[0], s[1]);
        check(ONE_ROUNDING, at("softmax_fwd", s), ref, got);
      }
    }

    void softmaxBwd() {
      for (int[] s : new int[][] {{1, 1}, {7, 3}, {300, 21}}) {
        int rows = K * s[0], c = s[1];
        float[] y = uniform(s[0] * c, 0f, 1f);
        float[] dy = normal(rows * c);
        float[] ref = new float[rows * c];
        float[] got = garbage(rows * c);
        ActivationKernels.softmax_bwd(ref, dy, y, rows, s[0], c);
        launch1d("softmax_bwd", rows, got, dy, y, rows, s[0], c);
        check(EXACT, at("softmax_bwd", s), ref, got);
      }
    }

    /**
     * A libm exp/log (in double, rounded to float) inside a difference: one rounding of the larger
     * term, |x − max| and log Σ ≤ log 21 in forward, exp(y)·Σ dy in backward (|Σ dy| ≲ 20).
     */
    private static final Tolerance LIBM_DIFFERENCE = new Tolerance(0x1p-22, 1e-6);

    void logSoftmaxFwd() {
      for (int[] s : new int[][] {{1, 1}, {7, 3}, {300, 21}}) {
        float[] x = normal(s[0] * s[1]);
        float[] ref = new float[x.length];
        float[] got = garbage(x.length);
        LogSoftmaxKernels.log_softmax_fwd(ref, x, s[0], s[1]);
        launch1d("log_softmax_fwd", s[0], got, x, s[0], s[1]);
        check(LIBM_DIFFERENCE, at("log_softmax_fwd", s), ref, got);
      }
    }

    void logSoftmaxBwd() {
      for (int[] s : new int[][] {{1, 1}, {7, 3}, {300, 21}}) {
        int rows = K * s[0], c = s[1];
        float[] y = uniform(s[0] * c, -4f, 0f);
        float[] dy = normal(rows * c);
        float[] ref = new float[rows * c];
        float[] got = garbage(rows * c);
        LogSoftmaxKernels.log_softmax_bwd(ref, dy, y, rows, s[0], c);
        launch1d("log_softmax_bwd", rows, got, dy, y, rows, s[0], c);
        check(LIBM_DIFFERENCE, at("log_softmax_bwd", s), ref, got);
      }
    }

    /** n, h, w, c, kh, kw, sh, sw: windows that fit, overlap, skip pixels, or hang over. */
    private final int[][] pools = {
      {2, 7, 9, 3, 2, 2, 2, 2},
      {1, 8, 5, 2, 3, 3, 1, 1},
      {1, 9, 11, 4, 3, 2, 2, 3},
      {1, 1, 1, 1, 1, 1, 1, 1}
    };

    void poolFwd() {
      for (int[] p : pools) {
        for (Padding pad : Padding.values()) {
          for (boolean max : new boolean[] {true, false}) {
            int n = p[0], h = p[1], w = p[2], c = p[3], kh = p[4], kw = p[5], sh = p[6], sw = p[7];
            int oh = pad.outputSize(h, kh, sh, 1), ow = pad.outputSize(w, kw, sw, 1);
            int pt = pad.before(h, kh, sh, 1), pl = pad.before(w, kw, sw, 1);
            float[] x = normal((long) n * h * w * c);
            long total = (long) n * oh * ow * c;
            float[] ref = new float[(int) total];
            float[] got = garbage(total);
            PoolKernels.pool_fwd(
                ref,
                x,
                new ConvGeometry(n, h, w, c, kh, kw, c, 1, sh, sw, 1, 1, pt, pl, 0, 0, oh, ow),
                max);
            launch1d(
                "pool_fwd", total, got, x, n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, max ? 1 : 0);
            check(EXACT, at("pool_fwd", p, pad, max), ref, got);
          }
        }
      }
    }

    void poolBwd(boolean max) {
      for (int[] p : pools) {
        for (Padding pad : Padding.values()) {
          int n = p[0], h = p[1], w = p[2], c = p[3], kh = p[4], kw = p[5], sh = p[6], sw = p[7];
          int oh = pad.outputSize(h, kh, sh, 1), ow = pad.outputSize(w, kw, sw, 1);
          int pt = pad.before(h, kh, sh, 1), pl = pad.before(w, kw, sw, 1);
          int b = K * n;
          float[] dy = normal((long) b * oh * ow * c);
          long total = (long) b * h * w * c;
          float[] ref = new float[(int) total];
          float[] got = garbage(total);
          if (max) {
            float[] x = normal((long) n * h * w * c);
            PoolKernels.maxpool_bwd(
                ref,
                dy,
                x,
                b,
                new ConvGeometry(n, h, w, c, kh, kw, c, 1, sh, sw, 1, 1, pt, pl, 0, 0, oh, ow));
            launch1d(
                "maxpool_bwd", total, got, dy, x, b, n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl);
          } else {
            PoolKernels.avgpool_bwd(
                ref,
                dy,
                new ConvGeometry(b, h, w, c, kh, kw, c, 1, sh, sw, 1, 1, pt, pl, 0, 0, oh, ow));
            launch1d("avgpool_bwd", total, got, dy, b, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl);
          }
          check(EXACT, at(max ? "maxpool_bwd" : "avgpool_bwd", p, pad), ref, got);
        }
      }
    }

    void spatialMeanBwd() {
      for (int[] s : new int[][] {{1, 1, 1}, {4, 35, 3}, {2, 300, 2}}) {
        int b = s[0], hw = s[1], c = s[2];
        float[] dy = normal(b * c);
        float[] ref = new float[b * hw * c];
        float[] got = garbage(ref.length);
        PoolKernels.spatial_mean_bwd(ref, dy, b, hw, c);
        launch1d("spatial_mean_bwd", ref.length, got, dy, b, hw, c);
        check(EXACT, at("spatial_mean_bwd", s), ref, got);
      }
    }

    void resizeNearest(boolean backward) {
      int[][] shapes = {{2, 5, 7, 3, 11, 4}, {1, 8, 8, 2, 3, 17}, {1, 1, 6, 2, 4, 6}};
      boolean[][] flags = {{false, false}, {true, false}, {false, true}};
      for (int[] s : shapes) {
        for (boolean[] f : flags) {
          int h = s[1], w = s[2], c = s[3], oh = s[4], ow = s[5];
          int a = f[0] ? 1 : 0, hp = f[1] ? 1 : 0;
          if (!backward) {
            int n = s[0];
            float[] x = normal((long) n * h * w * c);
            long total = (long) n * oh * ow * c;
            float[] ref = new float[(int) total];
            float[] got = garbage(total);
            ResizeKernels.resize_nearest_fwd(
                ref, x, new ResizeDims(n, h, w, c, oh, ow, f[0], f[1]));
            launch1d("resize_nearest_fwd", total, got, x, n, h, w, c, oh, ow, a, hp);
            check(EXACT, at("resize_nearest_fwd", s, f), ref, got);
          } else {
            int b = K * s[0];
            float[] dy = normal((long) b * oh * ow * c);
            long total = (long) b * h * w * c;
            float[] ref = new float[(int) total];
            float[] got = garbage(total);
            ResizeKernels.resize_nearest_bwd(
                ref, dy, new ResizeDims(b, h, w, c, oh, ow, f[0], f[1]));
            launch1d("resize_nearest_bwd", total, got, dy, b, h, w, c, oh, ow, a, hp);
            check(EXACT, at("resize_nearest_bwd", s, f), ref, got);
          }
        }
      }
    }

    void concatCopy() {
      // outer, inAxis, inner, outAxis, offset
      for (int[] s : new int[][] {{2, 3, 5, 7, 4}, {1, 1, 1, 2, 0}, {6, 4, 33, 9, 2}}) {
        int outer = s[0], in = s[1], inner = s[2], outAxis = s[3], off = s[4];
        float[] part = normal((long) outer * in * inner);
        float[] big = normal((long) outer * outAxis * inner);
        // forward: part into its slice of big, the rest of big untouched
        float[] ref = big.clone();
        float[] got = big.clone();
        LayoutKernels.concat_copy(ref, part, new ConcatDims(outer, in, inner, outAxis, off), false);
        launch1d("concat_copy", part.length, got, part, outer, in, inner, outAxis, off, 0);
        check(EXACT, at("concat_copy forward", s), ref, got);
        // backward: the slice of big into part
        float[] refPart = new float[part.length];
        float[] gotPart = garbage(part.length);
        LayoutKernels.concat_copy(
            big, refPart, new ConcatDims(outer, in, inner, outAxis, off), true);
        launch1d("concat_copy", part.length, big, gotPart, outer, in, inner, outAxis, off, 1);
        check(EXACT, at("concat_copy backward", s), refPart, gotPart);
      }
    }

    /** Output dims and the two operands' dims (rank-4 padded), broadcasting both ways. */
    private final int[][][] binaries = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},
      {{2, 3, 4, 5}, {2, 3, 4, 5}, {1, 3, 1, 5}},
      {{2, 3, 4, 5}, {1, 1, 1, 1}, {2, 3, 4, 5}},
      {{1, 7, 1, 67}, {1, 7, 1, 1}, {1, 1, 1, 67}}
    };

    /** The binary op codes of binary.cu (BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV). */
    private final Map<String, Integer> bins = HostKernels.codes("BIN_");

    private float[] operand(int[] d, int kind, boolean divisor) {
      float[] v = normal((long) d[0] * d[1] * d[2] * d[3]);
      if (divisor && kind == bins.get("BIN_DIV")) {
        for (int i = 0; i < v.length; i++) {
          v[i] = Math.copySign(0.5f + Math.abs(v[i]), v[i]); // away from 0
        }
      }
      return v;
    }

    void binaryFwd() {
      for (int[][] s : binaries) {
        for (int kind : bins.values()) {
          int[] o = s[0], ad = s[1], bd = s[2];
          float[] a = operand(ad, kind, false);
          float[] b = operand(bd, kind, true);
          int total = o[0] * o[1] * o[2] * o[3];
          float[] ref = new float[total];
          float[] got = garbage(total);
          LayoutKernels.binary_fwd(ref, a, b, kind, o, ad, bd);
          launch1d(
              "binary_fwd",
              total,
              got,
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
          check(EXACT, at("binary_fwd", s, kind), ref, got);
        }
      }
    }

    void binaryBwd() {
      for (int[][] s : binaries) {
        for (int kind : bins.values()) {
          for (boolean wrtA : new boolean[] {true, false}) {
            int[] o = s[0], ad = s[1], bd = s[2];
            float[] a = operand(ad, kind, false);
            float[] b = operand(bd, kind, true);
            // dy has K·N rows where the forward had N (tiled); the side's own dims, batch tiled
            int[] yd = {K * o[0], o[1], o[2], o[3]};
            int[] side = (wrtA ? ad : bd).clone();
            if (side[0] != 1) {
              side[0] *= K;
            }
            float[] dy = normal((long) yd[0] * yd[1] * yd[2] * yd[3]);
            int total = side[0] * side[1] * side[2] * side[3];
            float[] ref = new float[total];
            float[] got = garbage(total);
            // ADD and SUB do not read the operands: null pointers, as the launcher passes
            boolean reads = Op.BinaryKind.ofCode(kind).gradReadsValues;
            float[] av = reads ? a : null;
            float[] bv = reads ? b : null;
            LayoutKernels.binary_bwd(ref, dy, av, bv, kind, wrtA, side, yd, ad, bd);
            launch1d(
                "binary_bwd",
                total,
                got,
                dy,
                av,
                bv,
                kind,
                wrtA ? 1 : 0,
                side[0],
                side[1],
                side[2],
                side[3],
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
            check(EXACT, at("binary_bwd", s, kind, wrtA), ref, got);
          }
        }
      }
    }

    /** Output (padded) dims, input dims, padding before. */
    private final int[][][] pads = {
      {{2, 7, 8, 3}, {2, 4, 5, 3}, {0, 1, 2, 0}},
      {{1, 3, 3, 40}, {1, 1, 1, 33}, {0, 2, 0, 7}},
      {{1, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 0, 0}}
    };

    void padFwd() {
      for (int[][] s : pads) {
        int[] o = s[0], xd = s[1], p = s[2];
        float[] x = normal((long) xd[0] * xd[1] * xd[2] * xd[3]);
        float value = (float) rng.nextGaussian();
        int total = o[0] * o[1] * o[2] * o[3];
        float[] ref = new float[total];
        float[] got = garbage(total);
        LayoutKernels.pad_fwd(ref, x, value, o, xd, p);
        launch1d(
            "pad_fwd", total, got, x, value, o[0], o[1], o[2], o[3], xd[0], xd[1], xd[2], xd[3],
            p[0], p[1], p[2], p[3]);
        check(EXACT, at("pad_fwd", s), ref, got);
      }
    }

    void padBwd() {
      for (int[][] s : pads) {
        int[] yd = s[0], xd = s[1], p = s[2];
        float[] dy = normal((long) yd[0] * yd[1] * yd[2] * yd[3]);
        int total = xd[0] * xd[1] * xd[2] * xd[3];
        float[] ref = new float[total];
        float[] got = garbage(total);
        LayoutKernels.pad_bwd(ref, dy, xd, yd, p);
        launch1d(
            "pad_bwd", total, got, dy, xd[0], xd[1], xd[2], xd[3], yd[0], yd[1], yd[2], yd[3], p[0],
            p[1], p[2], p[3]);
        check(EXACT, at("pad_bwd", s), ref, got);
      }
    }

    void addInplace() {
      for (int total : new int[] {1, 257, 1000}) {
        float[] acc = normal(total);
        float[] x = normal(total);
        float[] ref = acc.clone();
        LayoutKernels.add_inplace(ref, x, total);
        launch1d("add_inplace", total, acc, x, total);
        check(EXACT, at("add_inplace", total), ref, acc);
      }
    }

    /** n, h, w, c, f, kh, kw, sh, sw, dh, dw, groups. */
    private final int[][] convs = {
      {2, 6, 7, 3, 5, 3, 3, 1, 1, 1, 1, 1},
      {1, 9, 8, 4, 6, 3, 2, 2, 3, 1, 1, 2},
      {1, 7, 7, 5, 5, 3, 3, 1, 1, 2, 2, 5},
      {1, 5, 6, 2, 3, 1, 1, 2, 2, 1, 1, 1}
    };

    void conv(boolean backward) {
      for (int[] s : convs) {
        for (Padding pad : Padding.values()) {
          int n = s[0], h = s[1], w = s[2], c = s[3], f = s[4], kh = s[5], kw = s[6];
          int sh = s[7], sw = s[8], dh = s[9], dw = s[10], groups = s[11];
          int oh = pad.outputSize(h, kh, sh, dh), ow = pad.outputSize(w, kw, sw, dw);
          int pt = pad.before(h, kh, sh, dh), pl = pad.before(w, kw, sw, dw);
          float[] wt = normal((long) f * kh * kw * (c / groups));
          long in = (long) n * h * w * c;
          long out = (long) n * oh * ow * f;
          if (!backward) {
            float[] x = normal(in);
            float[] ref = new float[(int) out];
            float[] got = garbage(out);
            ConvKernels.conv2d_direct_fwd(
                ref,
                x,
                wt,
                new ConvGeometry(
                    n, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, pt, pl, 0, 0, oh, ow));
            launch1d(
                "conv2d_direct_fwd",
                out,
                got,
                x,
                wt,
                n,
                h,
                w,
                c,
                f,
                oh,
                ow,
                kh,
                kw,
                sh,
                sw,
                dh,
                dw,
                pt,
                pl,
                groups);
            check(EXACT, at("conv2d_direct_fwd", s, pad), ref, got);
          } else {
            float[] dy = normal(out);
            float[] ref = new float[(int) in];
            float[] got = garbage(in);
            ConvKernels.conv2d_direct_bwd_data(
                ref,
                dy,
                wt,
                new ConvGeometry(
                    n, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, pt, pl, 0, 0, oh, ow));
            launch1d(
                "conv2d_direct_bwd_data",
                in,
                got,
                dy,
                wt,
                n,
                h,
                w,
                c,
                f,
                oh,
                ow,
                kh,
                kw,
                sh,
                sw,
                dh,
                dw,
                pt,
                pl,
                groups);
            check(EXACT, at("conv2d_direct_bwd_data", s, pad), ref, got);
          }
        }
      }
    }
  }
}
