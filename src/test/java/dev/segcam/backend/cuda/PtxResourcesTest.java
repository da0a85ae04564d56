package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ColormapKernels;
import dev.segcam.kernels.ConvKernels;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.ExpKernels;
import dev.segcam.kernels.LayoutKernels;
import dev.segcam.kernels.LogSoftmaxKernels;
import dev.segcam.kernels.MatMulKernels;
import dev.segcam.kernels.PoolKernels;
import dev.segcam.kernels.ReduceKernels;
import dev.segcam.kernels.ResizeKernels;
import dev.segcam.kernels.StridedSliceKernels;
import dev.segcam.kernels.TransposeKernels;
import dev.segcam.kernels.UnaryKernels;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * No GPU needed: the PTX shipped on the classpath has the kernels CudaKernels and CudaGraphOps
 * launch, and every CUDA kernel has a CPU twin of the same name (llm.c's rule), and the other way
 * round.
 */
class PtxResourcesTest {
  static final Map<String, List<String>> MODULES =
      Map.ofEntries(
          Map.entry(
              "seed",
              List.of(
                  "masked_score_seed", "masked_score_reduce", "argmax_channels", "region_mask")),
          Map.entry(
              "channel_mean", List.of("channel_mean", "gradcampp_weights", "xgradcam_weights")),
          Map.entry("weighted_sum", List.of("weighted_sum_relu", "elementwise_sum_relu")),
          Map.entry(
              "resize",
              List.of(
                  "resize_bilinear_fwd",
                  "resize_bilinear_bwd",
                  "resize_nearest_fwd",
                  "resize_nearest_bwd")),
          Map.entry("normalize", List.of("minmax_normalize", "scale_normalize")),
          Map.entry("colormap", List.of("colormap_blend")),
          Map.entry("exp", List.of("exp_fwd", "exp_bwd")),
          Map.entry("matmul", List.of("batch_matmul")),
          Map.entry("unary", List.of("unary_fwd", "unary_bwd")),
          Map.entry("strided_slice", List.of("strided_slice_fwd", "strided_slice_bwd")),
          Map.entry("reduce", List.of("reduce_fwd", "reduce_bwd", "reduce_extreme_bwd")),
          Map.entry("transpose", List.of("transpose_copy")),
          Map.entry("activation", List.of("activation_fwd", "activation_bwd", "guided_relu_bwd")),
          Map.entry("softmax", List.of("softmax_fwd", "softmax_bwd")),
          Map.entry("log_softmax", List.of("log_softmax_fwd", "log_softmax_bwd")),
          Map.entry("pool", List.of("pool_fwd", "maxpool_bwd", "avgpool_bwd", "spatial_mean_bwd")),
          Map.entry("concat_pad", List.of("concat_copy", "pad_fwd", "pad_bwd")),
          Map.entry(
              "binary",
              List.of(
                  "channel_affine",
                  "channel_scale_bwd",
                  "binary_fwd",
                  "binary_bwd",
                  "add_inplace")),
          Map.entry("conv_direct", List.of("conv2d_direct_fwd", "conv2d_direct_bwd_data")));

  /** The classes that hold the kernels' Java twins. */
  static final List<Class<?>> TWIN_CLASSES =
      List.of(
          CpuKernels.class,
          ColormapKernels.class,
          ActivationKernels.class,
          PoolKernels.class,
          ResizeKernels.class,
          LayoutKernels.class,
          ConvKernels.class,
          ExpKernels.class,
          UnaryKernels.class,
          StridedSliceKernels.class,
          ReduceKernels.class,
          TransposeKernels.class,
          LogSoftmaxKernels.class,
          MatMulKernels.class);

  /**
   * One-op files (kernels/&lt;op&gt;.cu): launched by name through CudaGraphOps.launchIn from the
   * op table, so they have no launcher method of their own.
   */
  static final List<String> ONE_OP_MODULES =
      List.of("exp", "unary", "strided_slice", "reduce", "transpose", "log_softmax", "matmul");

  /** Second stages of a kernel whose twin does the whole job. */
  private static final List<String> HELPER_STAGES = List.of("masked_score_reduce");

  /** Suffix of a twin's row-range variant (the CPU engine's parallel split of the same loop). */
  private static final String ROW_RANGE_SUFFIX = "_rows";

  private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (\\w+)\\(");

  @Test
  void shippedPtxHasTheKernelsAndTheyHaveCpuTwins() {
    TreeSet<String> cudaKernels = new TreeSet<>();
    for (String module : new TreeMap<>(MODULES).keySet()) {
      String ptx = new String(PtxModule.readResource(module), StandardCharsets.US_ASCII);
      assertTrue(ptx.startsWith("// Generated from kernels/" + module + ".cu"), module);
      assertTrue(ptx.contains(".target sm_75"), module + " targets compute_75");
      List<String> entries = new ArrayList<>();
      Matcher m = ENTRY.matcher(ptx);
      while (m.find()) {
        entries.add(m.group(1));
      }
      assertEquals(new TreeSet<>(MODULES.get(module)), new TreeSet<>(entries), module + ".ptx");
      cudaKernels.addAll(entries);
    }
    TreeSet<String> twins = new TreeSet<>();
    for (Class<?> tc : TWIN_CLASSES) {
      for (Method me : tc.getDeclaredMethods()) {
        if (Modifier.isPublic(me.getModifiers()) && me.getName().contains("_")) {
          // name_rows: the CPU engine's row-range split of twin name, not a kernel of its own
          twins.add(me.getName().replaceFirst(ROW_RANGE_SUFFIX + "$", ""));
        }
      }
    }
    TreeSet<String> expected = new TreeSet<>(cudaKernels);
    expected.removeAll(HELPER_STAGES);
    assertEquals(expected, twins, "CUDA kernels vs their Java twins");
    for (String module : ONE_OP_MODULES) {
      expected.removeAll(MODULES.get(module));
    }
    for (String name : expected) {
      boolean launcher = false;
      for (Class<?> c : List.of(CudaKernels.class, CudaGraphOps.class)) {
        for (Method me : c.getDeclaredMethods()) {
          launcher |= me.getName().equals(name) && Modifier.isPublic(me.getModifiers());
        }
      }
      assertTrue(launcher, "CudaKernels/CudaGraphOps." + name);
    }
    for (Map.Entry<String, String> e : CudaGraphOps.MODULE_OF.entrySet()) {
      assertTrue(
          MODULES.get(e.getValue()).contains(e.getKey()),
          "CudaGraphOps loads " + e.getKey() + " from " + e.getValue() + ".ptx");
    }
  }
}
