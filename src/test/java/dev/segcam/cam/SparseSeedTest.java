package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.segcam.backend.CamTensor;
import dev.segcam.backend.SeedMode;
import dev.segcam.backend.SparseSeed;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The sparse score seed ({@link SparseSeed}, consumed by {@link SeedHead}) against the dense seed
 * it replaces, on random nets and fresh random inputs, every element of every result.
 */
class SparseSeedTest {
  /**
   * One-hot seeds (logit and sigmoid scores) reach the head's input as the dense path's own
   * products a·W[j,c] (the other classes add exact zeros), and the rest of the pipeline is the same
   * code: equal to float rounding of nothing at all, but allow one rounding.
   */
  private static final Tolerance ONE_HOT = Tolerance.SAME;

  /**
   * Softmax scores: the sparse path forms a·(W_c − W·p) where the dense one sums seed_k·W over the
   * C classes: two float orders of a sum of C terms, carried down the net's fan-ins.
   */
  private static final long SOFTMAX_ACCUMULATION = 4096;

  private final long seed = RandomTensors.freshSeed("SparseSeedTest");
  private final Random rnd = new Random(seed);

  private FloatTensor rand(int... dims) {
    return RandomTensors.normal(rnd, Shape.of(dims));
  }

  private Op conv(int k, int cin, int cout, boolean bias) {
    return new Op.Conv2D(rand(k, k, cin, cout), bias ? rand(cout) : null, 1, 1, 1, 1, Padding.SAME);
  }

  private static Op relu() {
    return new Op.Activation(Op.ActivationKind.RELU, 0f);
  }

  /** Which head a random net ends in. */
  enum Head {
    /** 1x1 conv with bias, then Softmax (the U-Nets' head). */
    CONV1X1_SOFTMAX,
    /** 1x1 conv without bias, a separate BiasAdd, logits out. */
    CONV1X1_BIASADD,
    /** 3x3 conv classifier: the sparse seed is made dense there. */
    CONV3X3,
    /** one sigmoid channel. */
    SIGMOID
  }

  /** in 8x6x3 -> r1 (8x6x5) -> pool (4x3) -> r2 (4x3x6) -> resize 8x6 -> head. */
  private Graph net(Head head, int classes) {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 8, 6, 3)));
    b.add("c1", conv(3, 3, 5, true), "in");
    b.add("r1", relu(), "c1");
    b.add("pool", new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), "r1");
    b.add("c2", conv(3, 5, 6, true), "pool");
    b.add("r2", relu(), "c2");
    b.add("up", new Op.Resize(Op.ResizeMode.BILINEAR, 8, 6, false, true), "r2");
    switch (head) {
      case CONV1X1_SOFTMAX -> {
        b.add("logits", conv(1, 6, classes, true), "up");
        b.add("probs", new Op.Softmax(), "logits");
        b.output("out", "probs");
      }
      case CONV1X1_BIASADD -> {
        b.add("cls", conv(1, 6, classes, false), "up");
        b.add("logits", new Op.BiasAdd(rand(classes)), "cls");
        b.output("out", "logits");
      }
      case CONV3X3 -> {
        b.add("logits", conv(3, 6, classes, true), "up");
        b.output("out", "logits");
      }
      case SIGMOID -> {
        b.add("logits", conv(1, 6, 1, true), "up");
        b.add("probs", new Op.Activation(Op.ActivationKind.SIGMOID, 0f), "logits");
        b.output("out", "probs");
      }
    }
    return b.build();
  }

  /** Random soft region weights over the 8x6 output, one class per target, both score modes. */
  private List<Target> targets(int classes, int k) {
    List<Target> out = new ArrayList<>();
    for (int t = 0; t < k; t++) {
      float[][] w = new float[8][6];
      for (float[] row : w) {
        for (int x = 0; x < row.length; x++) {
          row[x] = rnd.nextFloat() < 0.3f ? 0f : rnd.nextFloat();
        }
      }
      int c = rnd.nextInt(classes == 1 ? 2 : classes);
      Target tg = Target.weights(c, w);
      out.add(t % 2 == 0 ? tg : tg.withScore(ScoreMode.PROBABILITIES));
    }
    return out;
  }

  @Test
  void sparsePathEqualsTheDensePathOnRandomNets() {
    for (Head head : Head.values()) {
      int classes = head == Head.SIGMOID ? 1 : 7;
      Graph g = net(head, classes);
      FloatTensor images = rand(2, 8, 6, 3);
      List<Target> targets = targets(classes, 5);
      for (List<String> layers : List.of(List.of("r2"), List.of("up"), List.of("up", "r1"))) {
        String what = head + " " + layers + " (seed " + seed + ")";
        // the layer gradients of every row, dense seed against sparse seed
        Map<String, float[]> dg = gradients(g, false, images, targets, layers);
        Map<String, float[]> sg = gradients(g, true, images, targets, layers);
        for (String l : layers) {
          float[] ref = dg.get(l);
          Tolerance.reassociated(SOFTMAX_ACCUMULATION, Tolerance.maxAbs(ref))
              .assertClose(what + " gradient at " + l, ref, sg.get(l));
        }
        for (CamMethod m : CamMethod.values()) {
          compare(
              what + " " + m,
              explain(g, false, images, targets, layers, m),
              explain(g, true, images, targets, layers, m));
        }
      }
    }
  }

  private static CpuCamBackend backend(Graph g, boolean sparse) {
    CpuCamBackend b = CpuCamBackend.create(g, 1);
    b.sparseSeeds(sparse);
    return b;
  }

  private static List<CamResult> explain(
      Graph g,
      boolean sparse,
      FloatTensor images,
      List<Target> targets,
      List<String> layers,
      CamMethod m) {
    try (Explainer ex = new Explainer(backend(g, sparse))) {
      return ex.explain(images, targets, layers, m);
    }
  }

  private static Map<String, float[]> gradients(
      Graph g, boolean sparse, FloatTensor images, List<Target> targets, List<String> layers) {
    try (Explainer ex = new Explainer(backend(g, sparse))) {
      return ex.seeded(
          images,
          targets,
          layers,
          s -> {
            Map<String, CamTensor> grads = s.fwd().backward(s.seeds(), s.layers());
            Map<String, float[]> out = new LinkedHashMap<>();
            grads.forEach((l, t) -> out.put(l, t.toHost().data().clone()));
            grads.values().forEach(CamTensor::close);
            return out;
          });
    }
  }

  /**
   * Scores equal; weights and maps of one-hot rows (logit scores) equal to {@link #ONE_HOT}. The
   * maps of softmax rows sum g·A over channels, which cancels: their gradients are compared above.
   */
  private static void compare(String what, List<CamResult> dense, List<CamResult> sparse) {
    assertEquals(dense.size(), sparse.size(), what);
    for (int i = 0; i < dense.size(); i++) {
      CamResult d = dense.get(i);
      CamResult s = sparse.get(i);
      String at = what + ", image " + d.image() + " target " + d.targetIndex() + " " + d.layer();
      assertEquals(d.score(), s.score(), 0f, at + ": score");
      if (d.target().scoreMode() != ScoreMode.LOGITS) {
        continue;
      }
      if (d.weights() != null) {
        ONE_HOT.assertClose(at + " weights", d.weights(), s.weights());
      }
      ONE_HOT.assertClose(at + " raw map", d.rawMap().data(), s.rawMap().data());
      ONE_HOT.assertClose(at + " upsampled", d.upsampled().data(), s.upsampled().data());
      ONE_HOT.assertClose(at + " heatmap", d.heatmap().data(), s.heatmap().data());
    }
  }

  @Test
  void denseFormIsTheTwinsSeedBitForBit() {
    FloatTensor values = rand(2, 4, 3, 5);
    FloatTensor masks = RandomTensors.uniform(rnd, Shape.of(6, 4, 3), 0f, 1f);
    int[] cls = {1, 1, 4, 4, 0, 0};
    SeedMode[] modes = {
      SeedMode.LINEAR,
      SeedMode.LINEAR,
      SeedMode.SOFTMAX,
      SeedMode.SOFTMAX,
      SeedMode.LINEAR,
      SeedMode.LINEAR
    };
    Graph g = net(Head.CONV1X1_SOFTMAX, 5);
    CpuCamBackend sparseB = CpuCamBackend.create(g, 1);
    CpuCamBackend denseB = CpuCamBackend.create(g, 1);
    denseB.sparseSeeds(false);
    float[] s1 = new float[6];
    float[] s2 = new float[6];
    CamTensor sp = sparseB.scoreSeed(CamTensor.host(values), CamTensor.host(masks), cls, modes, s1);
    CamTensor de = denseB.scoreSeed(CamTensor.host(values), CamTensor.host(masks), cls, modes, s2);
    assertInstanceOf(SparseSeed.class, sp);
    assertArrayEquals(s2, s1);
    assertArrayEquals(de.toHost().data(), sp.toHost().data());
    assertEquals(de.shape(), sp.shape());
  }
}
