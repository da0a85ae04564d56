package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.DeviceOutOfMemoryException;
import dev.segcam.backend.Normalization;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.SeedMode;
import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.ModelZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.Tolerance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA backend against the CPU backend on every ModelZoo model and on weights/scene-unet, with
 * fresh random images, every element of every tensor checked, stage by stage so that a failure
 * names the first node that is wrong:
 *
 * <ol>
 *   <li>forward: the value of every node, CUDA vs the CPU engine on the same images;
 *   <li>score seeds: CUDA vs the CPU twin on the CUDA output values;
 *   <li>backward: the gradient at every node between the input and the output (K = 2 targets as one
 *       batch where the graph allows it), CUDA vs {@link CpuBackward} run on the CUDA forward
 *       values and seeds — the same values, so a ReLU or max-pool decision that flips on a 1e-7
 *       difference cannot turn a rounding difference into an O(1) one;
 *   <li>CAM steps (weights of every method, maps, resize, normalisation) at every layer: CUDA vs
 *       the CPU backend on the CUDA activations and gradients.
 * </ol>
 *
 * <p>Forward values and gradients go through a whole network (cuDNN's algorithms, e.g. Winograd or
 * FFT, round differently from the CPU engine's GEMM/Winograd): they are compared with rtol {@link
 * #NET_RTOL} and an absolute slack of {@link #NET_ATOL_OF_MAX} times the tensor's largest magnitude
 * (values that cancel to near zero carry the rounding of the large terms that made them). Each
 * comparison prints its worst errors so that the GPU session sees the real margin against
 * DESIGN.md's strict 1e-5. The CAM kernels are compared at {@link Tolerance#CUDA_FP32}.
 *
 * <p>Models come from {@code -Dsegcam.zoo.dir} or {@code .device/model-zoo} (exported on the build
 * machine by {@link ZooExport}, since the GPU machine has no TensorFlow), else are exported here
 * with TensorFlow.
 */
@RequiresGpu
class CudaCamBackendTest {
  /** Relative tolerance for whole-network values and gradients in strict FP32. */
  static final double NET_RTOL = 1e-4;

  /** Absolute slack, as a fraction of the largest magnitude in the reference tensor. */
  static final double NET_ATOL_OF_MAX = 1e-5;

  /** The same two with TF32 tensor-core math (DESIGN.md: 1e-3). */
  static final double TF32_RTOL = 1e-3;

  static final double TF32_ATOL_OF_MAX = 1e-3;

  static final int BATCH = 2;

  static Stream<String> models() {
    List<String> all = new ArrayList<>(ModelZoo.NAMES);
    all.add("scene-unet");
    return all.stream();
  }

  static Graph load(String name) {
    if (name.equals("scene-unet")) {
      return SavedModelImporter.load(Path.of("weights", "scene-unet")).graph();
    }
    Path dir = zooDir().resolve(name);
    if (!Files.isDirectory(dir)) {
      dir = ModelZoo.get(name).dir();
    }
    return SavedModelImporter.load(dir).graph();
  }

  /** Where ZooExport's models are: {@code -Dsegcam.zoo.dir}, else {@code .device/model-zoo}. */
  static Path zooDir() {
    String prop = System.getProperty("segcam.zoo.dir");
    return prop != null ? Path.of(prop) : Path.of(".device", "model-zoo");
  }

  /** The graph input's shape with unknown dims filled (batch n, spatial 32). */
  static int[] inputShape(Graph g, int n) {
    int[] d = g.node(g.inputs().get(0)).shape().dims();
    for (int i = 0; i < d.length; i++) {
      if (d[i] < 0) {
        d[i] = i == 0 ? n : 32;
      }
    }
    return d;
  }

  static float maxAbs(float[] a) {
    float m = 0;
    for (float v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  /** Compares at rtol + atolOfMax·max|ref|; returns a failure line or null; prints the margin. */
  static String compare(
      String what, FloatTensor ref, FloatTensor got, double rtol, double atolOfMax) {
    return compare(what, ref, got, rtol, atolOfMax, maxAbs(ref.data()));
  }

  /**
   * A cancellation is a gradient far smaller than the terms that were summed into it: below {@code
   * 1e-3} of its consumers' gradients (InstanceNorm's moments make one: the gradient at {@code
   * StopGradient(mean(x))} is, analytically, {@code -2·mean(x - mean)·g = 0}, and in float32 it is
   * the rounding residue of terms some 1e7 larger). Such a gradient is compared at the scale of
   * those terms, as {@link dev.segcam.testing.Tolerance#reassociated} does for values that cancel;
   * every other gradient at its own largest magnitude.
   */
  static final double CANCELLATION = 1e-3;

  /** The gradient at {@code layer}, against the CPU's, with the scale rule above. */
  static String compareGradient(
      String what,
      Graph g,
      String layer,
      Map<String, FloatTensor> refs,
      FloatTensor got,
      double rtol,
      double atolOfMax) {
    FloatTensor ref = refs.get(layer);
    double own = maxAbs(ref.data());
    double terms = 0;
    for (Node c : g.nodes()) {
      if (c.inputs().contains(layer) && refs.containsKey(c.name())) {
        terms = Math.max(terms, maxAbs(refs.get(c.name()).data()));
      }
    }
    double scale = own < CANCELLATION * terms ? terms : own;
    return compare(
        scale == own ? what : what + " [cancels: compared at its consumers' scale]",
        ref,
        got,
        rtol,
        atolOfMax,
        scale);
  }

  private static String compare(
      String what, FloatTensor ref, FloatTensor got, double rtol, double atolOfMax, double scale) {
    if (!ref.shape().equals(got.shape())) {
      return what + ": shape " + got.shape() + " != reference " + ref.shape();
    }
    float[] r = ref.data();
    float[] x = got.data();
    double maxErr = 0;
    int worst = -1;
    for (int i = 0; i < r.length; i++) {
      double e = Math.abs((double) r[i] - x[i]);
      if (Double.isNaN(e)) {
        e = Double.POSITIVE_INFINITY;
      }
      if (e > maxErr) {
        maxErr = e;
        worst = i;
      }
    }
    System.out.printf(
        "  %-60s max|ref| %.3g  max abs err %.3g (%.2g of max) at %d%n",
        what, scale, maxErr, scale > 0 ? maxErr / scale : 0, worst);
    try {
      new Tolerance(rtol, atolOfMax * scale).assertClose(what, r, x);
      return null;
    } catch (AssertionError e) {
      return e.getMessage();
    }
  }

  static void failIfAny(List<String> failures) {
    if (!failures.isEmpty()) {
      StringBuilder b = new StringBuilder(failures.size() + " mismatches, first (in node order):");
      for (int i = 0; i < Math.min(8, failures.size()); i++) {
        b.append("\n").append(failures.get(i));
      }
      fail(b.toString());
    }
  }

  /** Nodes on a path from the input to the output, without inputs and constants. */
  static List<String> layers(Graph g, String out) {
    Set<String> anc = new HashSet<>();
    Deque<String> st = new ArrayDeque<>(List.of(out));
    while (!st.isEmpty()) {
      String n = st.pop();
      if (anc.add(n)) {
        st.addAll(g.node(n).inputs());
      }
    }
    List<String> l = new ArrayList<>();
    for (Node n : g.nodes()) {
      if (anc.contains(n.name())
          && !(n.op() instanceof Op.Input)
          && !(n.op() instanceof Op.Const)) {
        l.add(n.name());
      }
    }
    return l;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("models")
  void forwardBackwardAndCamStepsMatchCpu(String model) {
    Graph g = load(model);
    long seed = RandomTensors.freshSeed("CudaCamBackendTest." + model);
    Random rng = new Random(seed);
    String input = g.inputs().get(0);
    String out = g.primaryOutput();
    FloatTensor img = RandomTensors.input(rng, inputShape(g, BATCH));
    int n = img.shape().dim(0);
    Set<String> all = new LinkedHashSet<>();
    g.nodes().forEach(x -> all.add(x.name()));
    List<String> failures = new ArrayList<>();
    try (CpuCamBackend cpu = CpuCamBackend.create(g, 2);
        CudaCamBackend cuda = CudaCamBackend.create(g);
        CamTensor dimg = cuda.upload(img);
        CamBackend.Forward cf = cuda.forward(input, dimg, all);
        CamBackend.Forward pf = cpu.forward(input, CamTensor.host(img), all)) {
      System.out.println("[cuda] " + model + " on " + cuda.describe());
      // 1. forward, every node
      Map<String, FloatTensor> values = new HashMap<>();
      for (Node node : g.nodes()) {
        FloatTensor c = cf.value(node.name()).toHost();
        values.put(node.name(), c);
        if (!(node.op() instanceof Op.Input) && !(node.op() instanceof Op.Const)) {
          String f =
              compare(
                  model + " forward " + node.name() + " (" + node.op().type() + ")",
                  pf.value(node.name()).toHost(),
                  c,
                  NET_RTOL,
                  NET_ATOL_OF_MAX);
          if (f != null) {
            failures.add(f);
          }
        }
      }
      failIfAny(failures);

      // 2.-4. seeds, backward, CAM steps; K = 2 targets unless a broadcast forbids batching them
      Shape os = values.get(out).shape();
      int[] d = os.rank() == 4 ? os.dims() : new int[] {os.dim(0), 1, 1, os.dim(1)};
      int ch = d[3];
      List<String> layers = layers(g, out);
      for (int k = 2; k >= 1; k--) {
        int rows = n * k;
        float[] m = new float[rows * d[1] * d[2]];
        for (int i = 0; i < m.length; i++) {
          m[i] = 0.05f + rng.nextFloat(); // never zero: every pixel scores
        }
        int[] cls = new int[rows];
        SeedMode[] modes = new SeedMode[rows];
        for (int r = 0; r < rows; r++) {
          int t = r / n;
          cls[r] = rng.nextInt(ch == 1 ? 2 : ch);
          modes[r] = t == 0 ? SeedMode.LINEAR : (ch > 1 ? SeedMode.SOFTMAX : SeedMode.SIGMOID);
        }
        FloatTensor mt = new FloatTensor(Shape.of(rows, d[1], d[2]), m);
        float[] cs = new float[rows];
        float[] ps = new float[rows];
        try (CamTensor dm = cuda.upload(mt);
            CamTensor cseed = cuda.scoreSeed(cf.value(out), dm, cls, modes, cs)) {
          CamTensor pseed =
              cpu.scoreSeed(CamTensor.host(values.get(out)), CamTensor.host(mt), cls, modes, ps);
          Tolerance.CUDA_FP32.assertClose(model + " scores k=" + k, ps, cs);
          Tolerance.CUDA_FP32.assertClose(model + " seed k=" + k, pseed.toHost(), cseed.toHost());
          FloatTensor seedHost = cseed.toHost();
          Map<String, FloatTensor> ref;
          try {
            ref = CpuBackward.backward(g, values, Map.of(out, seedHost), layers);
          } catch (NotDifferentiableException e) {
            if (k == 1) {
              throw e;
            }
            System.out.println("  " + model + ": K=2 not batchable (" + e.getMessage() + ")");
            assertThrows(
                NotDifferentiableException.class,
                () -> cf.backward(Map.of(out, cseed), layers).values().forEach(CamTensor::close));
            continue;
          }
          Map<String, CamTensor> grads = cf.backward(Map.of(out, cseed), layers);
          try {
            for (String l : layers) {
              String f =
                  compareGradient(
                      model + " grad k=" + k + " " + l + " (" + g.node(l).op().type() + ")",
                      g,
                      l,
                      ref,
                      grads.get(l).toHost(),
                      NET_RTOL,
                      NET_ATOL_OF_MAX);
              if (f != null) {
                failures.add(f);
              }
            }
            failIfAny(failures);
            for (String l : layers) {
              int rank = values.get(l).shape().rank();
              if (rank == 4 || rank == 2) {
                camSteps(model + " k=" + k + " " + l, cpu, cuda, cf.value(l), grads.get(l), img);
              }
            }
          } finally {
            grads.values().forEach(CamTensor::close);
          }
        }
        break; // K = 2 ran
      }
    }
  }

  /** Every CAM step on CUDA vs the CPU backend on the same (downloaded) inputs. */
  private static void camSteps(
      String what,
      CpuCamBackend cpu,
      CudaCamBackend cuda,
      CamTensor acts,
      CamTensor grads,
      FloatTensor img) {
    CamTensor ha = CamTensor.host(acts.toHost());
    CamTensor hg = CamTensor.host(grads.toHost());
    Tolerance t = Tolerance.CUDA_FP32;
    int inH = img.shape().dim(1);
    int inW = img.shape().dim(2);
    try (CamTensor w = cuda.channelMean(grads);
        CamTensor wpp = cuda.gradCamPlusPlusWeights(acts, grads);
        CamTensor wx = cuda.xGradCamWeights(acts, grads);
        CamTensor map = cuda.weightedSumRelu(acts, w);
        CamTensor hires = cuda.elementwiseSumRelu(acts, grads, false);
        CamTensor layer = cuda.elementwiseSumRelu(acts, grads, true);
        CamTensor up = cuda.resizeBilinear(map, inH, inW);
        CamTensor norm = cuda.normalize(up, Normalization.perMap());
        CamTensor fixed = cuda.normalize(up, Normalization.fixed(0.37f))) {
      FloatTensor wh = w.toHost();
      t.assertClose(what + " channelMean", cpu.channelMean(hg).toHost(), wh);
      t.assertClose(
          what + " Grad-CAM++ weights", cpu.gradCamPlusPlusWeights(ha, hg).toHost(), wpp.toHost());
      t.assertClose(what + " XGrad-CAM weights", cpu.xGradCamWeights(ha, hg).toHost(), wx.toHost());
      FloatTensor mh = map.toHost();
      t.assertClose(
          what + " weightedSumRelu", cpu.weightedSumRelu(ha, CamTensor.host(wh)).toHost(), mh);
      t.assertClose(
          what + " HiResCAM", cpu.elementwiseSumRelu(ha, hg, false).toHost(), hires.toHost());
      t.assertClose(
          what + " LayerCAM", cpu.elementwiseSumRelu(ha, hg, true).toHost(), layer.toHost());
      FloatTensor uh = up.toHost();
      t.assertClose(
          what + " resize", cpu.resizeBilinear(CamTensor.host(mh), inH, inW).toHost(), uh);
      t.assertClose(
          what + " normalize per map",
          cpu.normalize(CamTensor.host(uh), Normalization.perMap()).toHost(),
          norm.toHost());
      t.assertClose(
          what + " normalize fixed",
          cpu.normalize(CamTensor.host(uh), Normalization.fixed(0.37f)).toHost(),
          fixed.toHost());
    }
  }

  /** The deepest rank-4 layer with at least 4 channels before the output. */
  static String camLayer(Graph g) {
    String out = g.primaryOutput();
    String best = null;
    for (String l : layers(g, out)) {
      Shape s = g.node(l).shape();
      if (!l.equals(out) && s.rank() == 4 && s.dim(3) >= 4) {
        best = l;
      }
    }
    return best;
  }

  /** One Grad-CAM frame as a video run does it; returns the normalised maps. */
  static float[] frame(
      CudaCamBackend cuda, Graph g, FloatTensor img, FloatTensor mask, String layer) {
    String out = g.primaryOutput();
    int n = img.shape().dim(0);
    int[] cls = new int[n];
    SeedMode[] modes = new SeedMode[n];
    java.util.Arrays.fill(modes, SeedMode.LINEAR);
    float[] scores = new float[n];
    try (CamTensor dimg = cuda.upload(img);
        CamBackend.Forward fwd = cuda.forward(g.inputs().get(0), dimg, Set.of(layer, out));
        CamTensor dm = cuda.upload(mask);
        CamTensor seed = cuda.scoreSeed(fwd.value(out), dm, cls, modes, scores)) {
      Map<String, CamTensor> grads = fwd.backward(Map.of(out, seed), List.of(layer));
      try (CamTensor gr = grads.get(layer);
          CamTensor w = cuda.channelMean(gr);
          CamTensor map = cuda.weightedSumRelu(fwd.value(layer), w);
          CamTensor up = cuda.resizeBilinear(map, img.shape().dim(1), img.shape().dim(2));
          CamTensor norm = cuda.normalize(up, Normalization.perMap())) {
        return norm.toHost().data();
      }
    }
  }

  static FloatTensor maskFor(CudaCamBackend cuda, Graph g, FloatTensor img, Random rng) {
    Map<String, Shape> shapes = g.inferShapes(Map.of(g.inputs().get(0), img.shape()));
    Shape os = shapes.get(g.primaryOutput());
    int h = os.rank() == 4 ? os.dim(1) : 1;
    int w = os.rank() == 4 ? os.dim(2) : 1;
    return RandomTensors.uniform(rng, Shape.of(os.dim(0), h, w), 0.1f, 1f);
  }

  @Test
  void aFrameUploadsImageAndMaskAndDownloadsScoresAndMapsOnly() {
    Graph g = load("scene-unet");
    Random rng = new Random(RandomTensors.freshSeed("CudaCamBackendTest.copies"));
    FloatTensor img = RandomTensors.input(rng, inputShape(g, 1));
    String layer = camLayer(g);
    try (CudaCamBackend cuda = CudaCamBackend.create(g)) {
      FloatTensor mask = maskFor(cuda, g, img, rng);
      frame(cuda, g, img, mask, layer); // first frame: plans, PTX loads, class upload
      DeviceArena.CopyCounts before = cuda.copies();
      float[] maps = frame(cuda, g, img, mask, layer);
      DeviceArena.CopyCounts d = cuda.copies().minus(before);
      System.out.println("[cuda] copies in a steady frame: " + d + "; " + cuda.memoryStats());
      assertEquals(2, d.uploads(), "uploads per frame (image, mask): " + d);
      assertEquals(2, d.downloads(), "downloads per frame (scores, maps): " + d);
      assertEquals(4L * (img.size() + mask.size()), d.uploadBytes(), "upload bytes: " + d);
      assertEquals(4L * (1 + maps.length), d.downloadBytes(), "download bytes: " + d);
    }
  }

  @Test
  void outOfMemoryIsTypedAndTheBackendWorksAfterFreeing() {
    Graph g = load("scene-unet");
    Random rng = new Random(RandomTensors.freshSeed("CudaCamBackendTest.oom"));
    FloatTensor img = RandomTensors.input(rng, inputShape(g, 1));
    String layer = camLayer(g);
    try (CudaCamBackend cuda = CudaCamBackend.create(g)) {
      FloatTensor mask = maskFor(cuda, g, img, rng);
      float[] before = frame(cuda, g, img, mask, layer);
      List<CamTensor> hog = new ArrayList<>();
      DeviceOutOfMemoryException oom = null;
      try {
        for (int i = 0; i < 4096 && oom == null; i++) {
          try {
            hog.add(cuda.allocate(Shape.of(1 << 28))); // 1 GiB each
          } catch (DeviceOutOfMemoryException e) {
            oom = e;
          }
        }
      } finally {
        hog.forEach(CamTensor::close);
      }
      assertTrue(oom != null, "4 TiB allocated without an out-of-memory error?");
      System.out.println(
          "[cuda] OOM after "
              + hog.size()
              + " GiB: "
              + oom.getMessage()
              + "; "
              + cuda.memoryStats());
      // a frame while the pool still holds the freed blocks: the arena trims and retries
      float[] pooled = frame(cuda, g, img, mask, layer);
      Tolerance.CUDA_FP32.assertClose("maps after OOM (pooled)", before, pooled);
      cuda.trimMemory();
      float[] after = frame(cuda, g, img, mask, layer);
      Tolerance.CUDA_FP32.assertClose("maps after OOM and trim", before, after);
    }
  }

  @Test
  void tf32ModeStaysWithinTheTensorCoreTolerance() {
    Graph g = load("unet_bilinear");
    Random rng = new Random(RandomTensors.freshSeed("CudaCamBackendTest.tf32"));
    FloatTensor img = RandomTensors.input(rng, inputShape(g, BATCH));
    String out = g.primaryOutput();
    List<String> failures = new ArrayList<>();
    try (CpuCamBackend cpu = CpuCamBackend.create(g, 2);
        CudaCamBackend cuda = CudaCamBackend.create(g, 0, CudnnConv.Precision.TF32);
        CamTensor dimg = cuda.upload(img);
        CamBackend.Forward cf = cuda.forward(g.inputs().get(0), dimg, Set.of(out));
        CamBackend.Forward pf = cpu.forward(g.inputs().get(0), CamTensor.host(img), Set.of(out))) {
      String f =
          compare(
              "unet_bilinear TF32 output",
              pf.value(out).toHost(),
              cf.value(out).toHost(),
              TF32_RTOL,
              TF32_ATOL_OF_MAX);
      if (f != null) {
        failures.add(f);
      }
    }
    failIfAny(failures);
  }

  @Test
  void batchedTargetsEqualSingleTargets() {
    // the K-target batch must give each target exactly what a run with that target alone gives
    Graph g = load("unet_bilinear");
    Random rng = new Random(RandomTensors.freshSeed("CudaCamBackendTest.batched"));
    FloatTensor img = RandomTensors.input(rng, inputShape(g, BATCH));
    String out = g.primaryOutput();
    String layer = camLayer(g);
    int n = img.shape().dim(0);
    try (CudaCamBackend cuda = CudaCamBackend.create(g);
        CamTensor dimg = cuda.upload(img);
        CamBackend.Forward f = cuda.forward(g.inputs().get(0), dimg, Set.of(layer, out))) {
      Shape os = f.value(out).shape();
      FloatTensor seeds = RandomTensors.normal(rng, os.withDim(0, 2 * n));
      Map<String, FloatTensor> single = new LinkedHashMap<>();
      float[] both;
      try (CamTensor s = cuda.upload(seeds)) {
        Map<String, CamTensor> gr = f.backward(Map.of(out, s), List.of(layer));
        both = gr.get(layer).toHost().data();
        gr.values().forEach(CamTensor::close);
      }
      int per = seeds.size() / 2;
      int gper = both.length / 2;
      for (int t = 0; t < 2; t++) {
        float[] part = java.util.Arrays.copyOfRange(seeds.data(), t * per, (t + 1) * per);
        try (CamTensor s = cuda.upload(new FloatTensor(os, part))) {
          Map<String, CamTensor> gr = f.backward(Map.of(out, s), List.of(layer));
          single.put("t" + t, gr.get(layer).toHost());
          gr.values().forEach(CamTensor::close);
        }
        // cuDNN may pick another algorithm for another batch: the network tolerance, not SAME
        FloatTensor ref = single.get("t" + t);
        String fail =
            compare(
                "target " + t + " batched vs alone",
                ref,
                new FloatTensor(
                    ref.shape(), java.util.Arrays.copyOfRange(both, t * gper, (t + 1) * gper)),
                NET_RTOL,
                NET_ATOL_OF_MAX);
        if (fail != null) {
          fail(fail);
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("models")
  void directConvolutionsAgreeWithCudnn(String model) {
    // the same graph with every convolution on our direct kernels: tells cuDNN layout or
    // algorithm trouble apart from the rest of the backend
    Graph g = load(model);
    Random rng = new Random(RandomTensors.freshSeed("CudaCamBackendTest.direct." + model));
    FloatTensor img = RandomTensors.input(rng, inputShape(g, BATCH));
    String out = g.primaryOutput();
    String in = g.inputs().get(0);
    FloatTensor viaCudnn;
    FloatTensor viaDirect;
    try (CudaCamBackend cuda = CudaCamBackend.create(g);
        CamTensor d = cuda.upload(img);
        CamBackend.Forward f = cuda.forward(in, d, Set.of(out))) {
      viaCudnn = f.value(out).toHost();
      System.out.println("  " + model + " cuDNN fallbacks: " + cuda.directFallbacks());
    }
    String old = System.getProperty("segcam.cuda.conv");
    System.setProperty("segcam.cuda.conv", "direct");
    try (CudaCamBackend cuda = CudaCamBackend.create(g);
        CamTensor d = cuda.upload(img);
        CamBackend.Forward f = cuda.forward(in, d, Set.of(out))) {
      viaDirect = f.value(out).toHost();
    } finally {
      if (old == null) {
        System.clearProperty("segcam.cuda.conv");
      } else {
        System.setProperty("segcam.cuda.conv", old);
      }
    }
    String fail =
        compare(model + " output, cuDNN vs direct", viaDirect, viaCudnn, NET_RTOL, NET_ATOL_OF_MAX);
    if (fail != null) {
      fail(fail);
    }
  }

  /**
   * End to end through {@link dev.segcam.cam.Explainer}: the same heatmaps and scores on CUDA as on
   * the CPU. Looser than the stage checks above: here the CPU runs its own forward, so a ReLU or
   * max-pool decision within rounding of its threshold can go the other way and move a map value by
   * more than a rounding; heatmaps are in [0,1].
   */
  @Test
  void explainerHeatmapsMatchTheCpu() {
    final double rtol = 1e-3;
    final double atol = 1e-3;
    Graph g = load("scene-unet");
    Random rng = new Random(RandomTensors.freshSeed("CudaCamBackendTest.explainer"));
    FloatTensor img = RandomTensors.input(rng, inputShape(g, BATCH));
    List<dev.segcam.cam.Target> targets =
        List.of(dev.segcam.cam.Target.image(1), dev.segcam.cam.Target.box(2, 10, 12, 40, 50));
    List<String> failures = new ArrayList<>();
    try (dev.segcam.cam.Explainer cpu = new dev.segcam.cam.Explainer(CpuCamBackend.create(g, 2));
        dev.segcam.cam.Explainer cuda = new dev.segcam.cam.Explainer(CudaCamBackend.create(g))) {
      for (dev.segcam.cam.CamMethod m : dev.segcam.cam.CamMethod.values()) {
        List<dev.segcam.cam.CamResult> ref = cpu.explain(img, targets, m);
        List<dev.segcam.cam.CamResult> got = cuda.explain(img, targets, m);
        assertEquals(ref.size(), got.size());
        for (int i = 0; i < ref.size(); i++) {
          dev.segcam.cam.CamResult r = ref.get(i);
          dev.segcam.cam.CamResult c = got.get(i);
          String what = m + " image " + r.image() + " target " + r.targetIndex();
          try {
            new Tolerance(rtol, atol * Math.max(1f, Math.abs(r.score())))
                .assertClose(what + " score", new float[] {r.score()}, new float[] {c.score()});
            new Tolerance(rtol, atol).assertClose(what + " heatmap", r.heatmap(), c.heatmap());
          } catch (AssertionError e) {
            failures.add(e.getMessage());
          }
        }
      }
    }
    failIfAny(failures);
  }
}
