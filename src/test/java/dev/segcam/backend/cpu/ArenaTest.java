package dev.segcam.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.ScoreMode;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The engines' {@link Arena} (issue #15 point 3): a warm call takes its activations and gradients
 * from the arrays of the previous one, what a caller holds is never overwritten by a later call,
 * reused arrays never leak stale contents into a result (the free lists are poisoned with NaN and
 * the results must equal a fresh engine's bit for bit), and two threads on one backend get what one
 * thread gets. Each case runs on the Java engine and on oneDNN's table (skipped where oneDNN cannot
 * load) over the shipped scene-unet on fresh random images.
 */
class ArenaTest {
  private static final Path MODEL = Path.of("weights/scene-unet");
  private static final int SIZE = 64;
  private static final int THREADS = 2;
  private static Graph graph;
  private static List<String> layers;
  private static Random rng;

  @BeforeAll
  static void setUp() {
    graph = SavedModelImporter.load(MODEL).graph();
    rng = new Random(RandomTensors.freshSeed("ArenaTest"));
    layers = new ArrayList<>();
    for (Node n : graph.nodes()) {
      if (n.op() instanceof Op.Activation && n.shape().rank() == 4) {
        layers.add(n.name());
      }
    }
    assertTrue(layers.size() >= 2, "scene-unet has ReLU layers: " + layers);
  }

  private static CpuCamBackend backend(String engine) {
    if (engine.equals("onednn")) {
      org.junit.jupiter.api.Assumptions.assumeTrue(
          OneDnnProbe.status().available(), OneDnnProbe.status().describe());
      return CpuCamBackend.createOneDnn(graph, THREADS);
    }
    return CpuCamBackend.create(graph, THREADS);
  }

  private static FloatTensor image(int n) {
    return RandomTensors.image(rng, n, SIZE, SIZE, 3);
  }

  private static List<CamResult> explain(Explainer ex, FloatTensor img, List<String> ls) {
    return ex.explain(
        img,
        List.of(Target.image(1), Target.box(2, 8, 8, 40, 30).withScore(ScoreMode.PROBABILITIES)),
        ls,
        CamMethod.GRAD_CAM);
  }

  @ParameterizedTest
  @ValueSource(strings = {"java", "onednn"})
  void aWarmCallReusesTheFirstCallsArrays(String engine) {
    List<String> ls = List.of(layers.get(1), layers.get(layers.size() - 1));
    try (CpuCamBackend b = backend(engine);
        Explainer ex = new Explainer(b)) {
      explain(ex, image(2), ls);
      Arena.Stats first = b.arena().stats();
      explain(ex, image(2), ls);
      Arena.Stats second = b.arena().stats();
      long fresh = second.freshArrays() - first.freshArrays();
      long reused = second.reusedArrays() - first.reusedArrays();
      // only the layer gradients handed to the caller (detached for good) are new
      assertTrue(fresh <= ls.size(), engine + ": a warm call allocated " + fresh + " arrays");
      assertTrue(
          reused >= first.freshArrays() - ls.size(),
          engine + ": reused " + reused + " of " + first.freshArrays() + " arrays");
      assertEquals(first.peakBytes(), second.peakBytes(), engine + ": the footprint grew");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"java", "onednn"})
  void valuesAndGradientsHeldByTheCallerSurviveLaterCalls(String engine) {
    String layer = layers.get(1);
    String logits = graph.outputs().values().iterator().next();
    try (CpuCamBackend b = backend(engine)) {
      String input = graph.inputs().get(0);
      CamBackend.Forward held = b.forward(input, CamTensor.host(image(1)), Set.of(layer, logits));
      float[] value = held.value(layer).toHost().data();
      float[] valueCopy = value.clone();
      FloatTensor lv = held.value(logits).toHost();
      FloatTensor seed = RandomTensors.normal(rng, lv.shape());
      Map<String, CamTensor> g =
          held.backward(Map.of(logits, CamTensor.host(seed)), List.of(layer));
      float[] grad = g.get(layer).toHost().data();
      float[] gradCopy = grad.clone();
      // more passes of the same shapes while the first is open, then after it closed
      for (int i = 0; i < 2; i++) {
        try (CamBackend.Forward f =
            b.forward(input, CamTensor.host(image(1)), Set.of(layer, logits))) {
          f.backward(Map.of(logits, CamTensor.host(seed)), List.of(layer));
        }
      }
      assertArrayEquals(valueCopy, value, engine + ": a later pass overwrote a held value");
      held.close();
      try (CamBackend.Forward f =
          b.forward(input, CamTensor.host(image(1)), Set.of(layer, logits))) {
        f.backward(Map.of(logits, CamTensor.host(seed)), List.of(layer));
      }
      assertArrayEquals(gradCopy, grad, engine + ": a later pass overwrote a returned gradient");
    }
    // the engine's public forward hands out its values for good
    try (CpuEngine e = new CpuEngine(graph, THREADS)) {
      Map<String, FloatTensor> out = e.forward(Map.of(graph.inputs().get(0), image(1)), null);
      Map<String, float[]> copies = new java.util.HashMap<>();
      out.forEach((k, v) -> copies.put(k, v.data().clone()));
      e.forward(Map.of(graph.inputs().get(0), image(1)), null);
      out.forEach((k, v) -> assertArrayEquals(copies.get(k), v.data(), "forward value " + k));
    }
  }

  /**
   * A Seg-Grad-CAM forward keeps only the values its backward reads (as TensorFlow: no convolution
   * output for a convolution's data gradient, a ReLU's input, a max pool's input), not every
   * activation: the encoder's first convolution, before the layer, is not kept, and the layer
   * gradient equals bit for bit the one of a pass that kept every value.
   */
  @ParameterizedTest
  @ValueSource(strings = {"java", "onednn"})
  void aForwardKeepsOnlyWhatItsBackwardReads(String engine) {
    String layer = layers.get(1);
    String logits = graph.outputs().values().iterator().next();
    String input = graph.inputs().get(0);
    String first = graph.consumers(input).iterator().next();
    Set<String> all = new java.util.HashSet<>();
    graph.nodes().forEach(n -> all.add(n.name()));
    FloatTensor img = image(2);
    try (CpuCamBackend b = backend(engine)) {
      FloatTensor seed;
      float[] got;
      try (CamBackend.Forward f = b.forward(input, CamTensor.host(img), Set.of(layer, logits))) {
        seed = RandomTensors.normal(rng, f.value(logits).shape());
        got =
            f.backward(Map.of(logits, CamTensor.host(seed)), List.of(layer))
                .get(layer)
                .toHost()
                .data();
        org.junit.jupiter.api.Assertions.assertThrows(
            dev.segcam.cam.CamException.class,
            () -> f.value(first),
            engine + ": kept '" + first + "', which the backward to '" + layer + "' never reads");
      }
      try (CamBackend.Forward f = b.forward(input, CamTensor.host(img), all)) {
        float[] want =
            f.backward(Map.of(logits, CamTensor.host(seed)), List.of(layer))
                .get(layer)
                .toHost()
                .data();
        assertArrayEquals(want, got, engine + ": the gradient depends on what was kept");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"java", "onednn"})
  void reusedArraysNeverLeakStaleContents(String engine) {
    List<String> ls = List.of(layers.get(0), layers.get(layers.size() / 2));
    FloatTensor warm = image(2);
    FloatTensor img = image(2);
    List<CamResult> want;
    try (CpuCamBackend b = backend(engine);
        Explainer ex = new Explainer(b)) {
      want = explain(ex, img, ls);
    }
    for (CamMethod m : List.of(CamMethod.GRAD_CAM, CamMethod.GRAD_CAM_PLUS_PLUS)) {
      try (CpuCamBackend b = backend(engine);
          Explainer ex = new Explainer(b)) {
        List<CamResult> fresh =
            ex.explain(img, List.of(Target.image(1), Target.box(2, 8, 8, 40, 30)), ls, m);
        explain(ex, warm, ls);
        b.arena().poison(Float.NaN); // any op reading a reused array before writing it gets NaN
        List<CamResult> got =
            ex.explain(img, List.of(Target.image(1), Target.box(2, 8, 8, 40, 30)), ls, m);
        sameMaps(fresh, got, engine + " " + m + " after NaN-poisoned reuse");
      }
    }
    try (CpuCamBackend b = backend(engine);
        Explainer ex = new Explainer(b)) {
      explain(ex, warm, ls);
      b.arena().poison(Float.NaN);
      sameMaps(want, explain(ex, img, ls), engine + " after NaN-poisoned reuse");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"java", "onednn"})
  void twoThreadsOnOneBackendGiveWhatOneThreadGives(String engine) throws Exception {
    int calls = 6;
    List<FloatTensor> imgs = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      imgs.add(image(1 + i % 2));
    }
    IntFunction<List<String>> ls = i -> List.of(layers.get(i % layers.size()));
    List<List<CamResult>> want = new ArrayList<>();
    try (CpuCamBackend b = backend(engine);
        Explainer ex = new Explainer(b)) {
      for (int i = 0; i < calls; i++) {
        want.add(explain(ex, imgs.get(i), ls.apply(i)));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (CpuCamBackend b = backend(engine);
        Explainer ex = new Explainer(b)) {
      for (int round = 0; round < 2; round++) {
        List<Future<List<CamResult>>> got = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
          int at = i;
          got.add(pool.submit(() -> explain(ex, imgs.get(at), ls.apply(at))));
        }
        for (int i = 0; i < calls; i++) {
          sameMaps(want.get(i), got.get(i).get(), engine + " call " + i + " round " + round);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @org.junit.jupiter.api.Test
  void countsReferencesByArrayIdentity() {
    Arena arena = new Arena();
    float[] a;
    try (Arena.Pass p = arena.open()) {
      try (Arena.Pass.Scope s = p.enter()) {
        a = Arena.zeros(100);
        assertSame(p, Arena.current());
      }
      p.retain(a); // a value
      p.retain(a); // a reshape of it sharing the array
      p.release(a);
      assertEquals(1, p.held(), "still referenced once");
      p.release(a);
      assertEquals(0, p.held());
      float[] again;
      try (Arena.Pass.Scope s = p.enter()) {
        again = Arena.floats(100);
        float[] other = Arena.floats(100);
        assertNotSame(again, other);
        p.detach(other); // handed out: never comes back
      }
      assertSame(a, again, "the released array is lent again");
    }
    assertEquals(1, arena.stats().reusedArrays());
    assertEquals(2, arena.stats().freshArrays());
    Arena.Pass q = arena.open();
    try (Arena.Pass.Scope s = q.enter()) {
      assertSame(a, Arena.floats(100), "close returned what the pass held");
      float[] z = Arena.zeros(100);
      assertEquals(0f, z[0]);
    }
    q.close();
    assertEquals(null, Arena.current());
    float[] outside = Arena.floats(100); // no pass entered: a plain array, never counted
    q.release(outside);
    assertEquals(3, arena.stats().freshArrays());
  }

  private static void sameMaps(List<CamResult> want, List<CamResult> got, String what) {
    assertEquals(want.size(), got.size(), what);
    for (int i = 0; i < want.size(); i++) {
      assertArrayEquals(
          want.get(i).rawMap().data(), got.get(i).rawMap().data(), what + " raw map " + i);
      assertArrayEquals(
          want.get(i).heatmap().data(), got.get(i).heatmap().data(), what + " heatmap " + i);
      assertEquals(want.get(i).score(), got.get(i).score(), what + " score " + i);
    }
  }
}
