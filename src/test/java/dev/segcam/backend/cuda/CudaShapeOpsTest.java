package dev.segcam.backend.cuda;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.Tolerance;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The shape ops' CUDA rules (CudaShapeOps over kernels/strided_slice.cu, transpose.cu and
 * reduce.cu) against the CPU engine through both backends' op tables: forward values and data
 * gradients with K = 2 targets over N = 2 images, every element. Copies and sums in the twins'
 * order, so slices and reductions agree to SAME; the Exp in front (whose gradient is a product)
 * takes the CUDA FP32 tolerance.
 */
@RequiresGpu
class CudaShapeOpsTest {
  private static final int N = 2;
  private static final int K = 2;

  @Test
  void slicesAndReductionsMatchTheCpu() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, 9, 11, 3)));
    b.add("e", new Op.Exp(), "x");
    // x[:, 1:-2, 9:0:-3, :] (a crop with a negative step)
    b.add(
        "crop",
        new Op.StridedSlice(
            new int[] {0, 1, 9, 0},
            new int[] {0, -2, 0, 0},
            new int[] {1, 1, -3, 1},
            0b1001,
            0b1001,
            0,
            new int[0]),
        "e");
    // crop[:, :, 1, newaxis, 1:] (shrink and new axis)
    b.add(
        "y",
        new Op.StridedSlice(
            new int[] {0, 0, 1, 1},
            new int[] {0, 0, 2, 0},
            new int[] {1, 1, 1, 1},
            0b0011,
            0b1011,
            0b0100,
            new int[] {2}),
        "crop");
    // LayerNorm moments: the mean over the channels, kept, and a Sum over H
    b.add("t", new Op.Transpose(List.of(0, 3, 1, 2)), "y");
    b.add("mu", new Op.Reduce(Op.ReduceKind.MEAN, 0b1000, true), "t");
    b.add("z", new Op.Reduce(Op.ReduceKind.SUM, 0b0010, false), "mu");
    Map<String, FloatTensor>[] r = cpuAndGpu(b.output("z", "z").build());
    Map<String, FloatTensor> cpu = r[0];
    Map<String, FloatTensor> gpu = r[1];
    Tolerance.SAME.assertClose("z", cpu.get("z"), gpu.get("z"));
    Tolerance.SAME.assertClose("d/dy", cpu.get("d/y"), gpu.get("d/y"));
    Tolerance.SAME.assertClose("d/dt", cpu.get("d/t"), gpu.get("d/t"));
    Tolerance.SAME.assertClose("d/dcrop", cpu.get("d/crop"), gpu.get("d/crop"));
    Tolerance.CUDA_FP32.assertClose("d/de", cpu.get("d/e"), gpu.get("d/e"));
  }

  /** Max over H, LogSoftmax over the channels, Min over them: the extreme gradients and rows. */
  @Test
  void maxMinAndLogSoftmaxMatchTheCpu() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, 9, 11, 3)));
    b.add("e", new Op.Exp(), "x");
    b.add("crop", new Op.Reduce(Op.ReduceKind.MAX, 0b0010, true), "e");
    b.add("y", new Op.LogSoftmax(), "crop");
    b.add("t", new Op.Exp(), "y");
    b.add("z", new Op.Reduce(Op.ReduceKind.MIN, 0b1000, false), "t");
    Map<String, FloatTensor>[] r = cpuAndGpu(b.output("z", "z").build());
    Map<String, FloatTensor> cpu = r[0];
    Map<String, FloatTensor> gpu = r[1];
    Tolerance.SAME.assertClose("z", cpu.get("z"), gpu.get("z"));
    Tolerance.SAME.assertClose("d/dt", cpu.get("d/t"), gpu.get("d/t"));
    for (String l : List.of("y", "crop", "e")) {
      Tolerance.CUDA_FP32.assertClose("d/d" + l, cpu.get("d/" + l), gpu.get("d/" + l));
    }
  }

  /**
   * The graph (input x (N,9,11,3), output z, layers e, crop, y, t) on the CPU and on the GPU, the
   * same random image and seed.
   */
  @SuppressWarnings("unchecked")
  private static Map<String, FloatTensor>[] cpuAndGpu(Graph g) {
    Random rng = new Random(RandomTensors.freshSeed("CudaShapeOpsTest"));
    FloatTensor img = RandomTensors.normal(rng, Shape.of(N, 9, 11, 3));
    List<String> layers = List.of("e", "crop", "y", "t");
    Map<String, FloatTensor> cpu = run(CpuCamBackend.create(g, 2), g, img, layers, rng, null);
    return new Map[] {cpu, run(CudaCamBackend.create(g), g, img, layers, rng, cpu.get("seed"))};
  }

  private static Map<String, FloatTensor> run(
      CamBackend be, Graph g, FloatTensor img, List<String> layers, Random rng, FloatTensor seed) {
    Map<String, FloatTensor> out = new HashMap<>();
    try (be;
        CamTensor x = be.upload(img);
        CamBackend.Forward f = be.forward("x", x, Set.of("z", "t", "y", "e", "crop"))) {
      FloatTensor y = f.value("z").toHost();
      FloatTensor s = seed != null ? seed : RandomTensors.normal(rng, y.shape().withDim(0, K * N));
      out.put("z", y);
      out.put("seed", s);
      try (CamTensor ds = be.upload(s)) {
        Map<String, CamTensor> gr = f.backward(Map.of("z", ds), layers);
        for (String l : layers) {
          out.put("d/" + l, gr.get(l).toHost());
        }
        gr.values().forEach(CamTensor::close);
      }
    }
    return out;
  }
}
