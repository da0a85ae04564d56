package dev.segcam.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.segcam.ir.FloatTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;

/** The zoo exports, TensorFlow runs each model forward and backward, and every op is covered. */
class ModelZooTest {

  static List<String> names() {
    return ModelZoo.NAMES;
  }

  @ParameterizedTest
  @MethodSource("names")
  void exportsAndRunsForwardAndGradients(String name) throws IOException {
    ModelZoo.Model m = ModelZoo.get(name);
    assertTrue(m.intermediates().size() >= 3, name + " declares fewer than 3 intermediates");
    // The variables must come back from the checkpoint: the loaded session runs no initialiser,
    // so an unsaved variable fails the run below as uninitialised.
    assertTrue(Files.exists(m.dir().resolve("variables").resolve("variables.index")));
    long seed = RandomTensors.freshSeed("ModelZooTest." + name);
    Random rng = new Random(seed);
    int batch = m.fixedBatch() ? (int) m.inputShape()[0] : 2;
    FloatTensor x = RandomTensors.input(rng, m.inputShape(batch));
    try (TfOracle tf = TfOracle.load(m.dir(), m.intermediates())) {
      FloatTensor y = tf.forward(x);
      assertEquals(batch, y.shape().dim(0), name + " output batch");
      assertFinite(name + " output", y.data());
      // target: class 1 (0 on a single channel) on the top-left quarter of the map (or the whole
      // row for a classifier)
      int rank = y.shape().rank();
      int cls = Math.min(1, y.shape().dim(rank - 1) - 1);
      int h = rank == 4 ? y.shape().dim(1) : 1;
      int w = rank == 4 ? y.shape().dim(2) : 1;
      FloatTensor sd =
          TfOracle.classSeed(y.shape(), cls, p -> (p / w) % h < (h + 1) / 2 && p % w < (w + 1) / 2);
      TfOracle.Run r = tf.run(x, sd);
      // Two different TensorFlow graphs (forward only, forward + gradients) of the same math:
      // oneDNN
      // may pick other kernels for each, so they agree to float32 reassociation, not bit for bit.
      Tolerance.reassociated(accumulationLength(graphDef(m.dir())), Tolerance.maxAbs(y.data()))
          .assertClose(name + " forward vs run", y, r.output());
      for (String t : m.intermediates()) {
        FloatTensor a = r.values().get(t);
        FloatTensor g = r.grads().get(t);
        assertEquals(a.shape(), g.shape(), name + " " + t + ": gradient shape");
        assertFinite(name + " " + t, a.data());
        assertFinite(name + " d/d " + t, g.data());
        assertTrue(nonZero(a.data()) > 0, name + " " + t + " is all zero");
        assertTrue(nonZero(g.data()) > 0, name + " dS/d " + t + " is all zero");
      }
      System.out.printf(
          "%s: in %s out %s, S=%.5g, %d tensors, accumulation length %d%n",
          name,
          x.shape(),
          y.shape(),
          TfOracle.score(y, sd),
          m.intermediates().size(),
          accumulationLength(graphDef(m.dir())));
    }
  }

  /**
   * The oracle's gradients are right: for the input and every declared tensor A, dS/dA . v matches
   * the central difference of S along a random unit direction v (A fed with A +- eps v). The bound
   * is loose, as float32 rounding and ReLU kinks allow. This also checks TF's gradients through the
   * function call, and the oracle's repair of dilated-conv gradients. Tensors that reach a max pool
   * are skipped: ReLU zeros tie inside pool windows, where S has no derivative.
   */
  @ParameterizedTest
  @MethodSource("names")
  void gradientMatchesFiniteDifference(String name) throws IOException {
    ModelZoo.Model m = ModelZoo.get(name);
    GraphDef gd = graphDef(m.dir());
    long seed = RandomTensors.freshSeed("ModelZooTest.fd." + name);
    Random rng = new Random(seed);
    FloatTensor x = RandomTensors.input(rng, m.inputShape(1));
    List<String> tensors = new ArrayList<>();
    tensors.add(m.inputOp());
    tensors.addAll(m.intermediates());
    try (TfOracle tf = TfOracle.load(m.dir(), tensors)) {
      FloatTensor y = tf.forward(x);
      FloatTensor sd = RandomTensors.normal(rng, y.shape());
      TfOracle.Run run = tf.run(x, sd);
      List<String> bad = new ArrayList<>();
      int checked = 0;
      for (String t : tensors) {
        if (reachesMaxPool(gd, t)) {
          System.out.println(name + " " + t + ": skipped, feeds a max pool");
          continue;
        }
        checked++;
        FloatTensor a = run.values().get(t);
        FloatTensor g = run.grads().get(t);
        // Half along the gradient, half random: a purely random direction is nearly orthogonal to
        // dS/dA in thousands of dimensions, leaving a derivative below float32's resolution of S.
        FloatTensor v = unit(sum(unit(g), unit(RandomTensors.normal(rng, a.shape()))));
        double analytic = 0;
        double gNorm = 0;
        for (int i = 0; i < g.size(); i++) {
          analytic += (double) g.data()[i] * v.data()[i];
          gNorm += (double) g.data()[i] * g.data()[i];
        }
        gNorm = Math.sqrt(gNorm);
        // Large steps cross ReLU kinks, small ones drown in float32 rounding of S; which step
        // works depends on the tensor, so any of a few steps may confirm the gradient.
        StringBuilder tried = new StringBuilder();
        boolean ok = false;
        for (double eps : new double[] {1e-2, 1e-1, 3e-2, 3e-3, 1e-3, 3e-4}) {
          double numeric =
              (TfOracle.score(tf.forwardWith(x, t, axpy(a, eps, v)), sd)
                      - TfOracle.score(tf.forwardWith(x, t, axpy(a, -eps, v)), sd))
                  / (2 * eps);
          tried.append(String.format(" %.0e:%.6g", eps, numeric));
          if (Math.abs(analytic - numeric) <= 2e-2 * Math.abs(numeric) + 1e-3 * gNorm) {
            ok = true;
            break;
          }
        }
        String line =
            String.format(
                "%s %s: dS/dA.v %.6g, finite differences (step:value)%s, |dS/dA| %.4g",
                name, t, analytic, tried, gNorm);
        System.out.println(line);
        if (!ok) {
          bad.add(line);
        }
      }
      assertTrue(bad.isEmpty(), "gradients off: " + bad);
      assertTrue(checked >= 3, name + ": only " + checked + " tensors checked");
    }
  }

  /** Whether a MaxPool is reachable from op t (function bodies are not entered). */
  private static boolean reachesMaxPool(GraphDef gd, String t) {
    Map<String, List<NodeDef>> consumers = new HashMap<>();
    for (NodeDef n : gd.getNodeList()) {
      for (String in : n.getInputList()) {
        String src = in.replaceFirst("^\\^", "").replaceFirst(":\\d+$", "");
        consumers.computeIfAbsent(src, k -> new ArrayList<>()).add(n);
      }
    }
    ArrayDeque<String> todo = new ArrayDeque<>(List.of(t));
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      for (NodeDef c : consumers.getOrDefault(todo.pop(), List.of())) {
        if (c.getOp().startsWith("MaxPool")) {
          return true;
        }
        if (seen.add(c.getName())) {
          todo.push(c.getName());
        }
      }
    }
    return false;
  }

  private static FloatTensor unit(FloatTensor v) {
    double n = 0;
    for (float f : v.data()) {
      n += (double) f * f;
    }
    float[] r = new float[v.size()];
    for (int i = 0; i < r.length; i++) {
      r[i] = (float) (v.data()[i] / Math.sqrt(n));
    }
    return new FloatTensor(v.shape(), r);
  }

  private static FloatTensor sum(FloatTensor a, FloatTensor b) {
    return axpy(a, 1, b);
  }

  private static FloatTensor axpy(FloatTensor x, double a, FloatTensor v) {
    float[] r = new float[x.size()];
    for (int i = 0; i < r.length; i++) {
      r[i] = (float) (x.data()[i] + a * v.data()[i]);
    }
    return new FloatTensor(x.shape(), r);
  }

  @Test
  void zooCoversEveryOp() throws IOException {
    Map<String, TreeSet<String>> where = new TreeMap<>();
    for (ModelZoo.Model m : ModelZoo.all()) {
      GraphDef gd = graphDef(m.dir());
      for (NodeDef n : gd.getNodeList()) {
        where.computeIfAbsent(n.getOp(), k -> new TreeSet<>()).add(m.name());
      }
      for (FunctionDef f : gd.getLibrary().getFunctionList()) {
        for (NodeDef n : f.getNodeDefList()) {
          where.computeIfAbsent(n.getOp(), k -> new TreeSet<>()).add(m.name() + "(fn)");
        }
      }
    }
    System.out.println("op coverage: " + where);
    List<String> missing = new ArrayList<>();
    for (String op : ModelZoo.ALL_OP_TYPES) {
      boolean found = false;
      for (String alt : op.split("\\|")) {
        found |= where.containsKey(alt);
      }
      if (!found) {
        missing.add(op);
      }
    }
    if (!missing.isEmpty()) {
      fail("zoo misses ops " + missing + "; has " + where.keySet());
    }
  }

  @Test
  void functionModelCallsAFunctionWithLayersInside() throws IOException {
    GraphDef gd = graphDef(ModelZoo.get("function_call").dir());
    boolean call = false;
    for (NodeDef n : gd.getNodeList()) {
      call |= n.getOp().endsWith("PartitionedCall");
    }
    assertTrue(call, "no (Stateful)PartitionedCall node in function_call");
    assertTrue(gd.getLibrary().getFunctionCount() >= 1, "no FunctionDef in the library");
    List<String> ops = new ArrayList<>();
    for (NodeDef n : gd.getLibrary().getFunction(0).getNodeDefList()) {
      ops.add(n.getOp());
    }
    assertTrue(ops.contains("Conv2D") && ops.contains("Relu"), "function body: " + ops);
  }

  /**
   * The accumulation length of a model's outputs for {@link Tolerance#reassociated}: the sum over
   * its weight variables ({@code VariableV2} of rank >= 2, function bodies included) of their
   * fan-in, the product of all dimensions but the last. An upper bound on the sum of fan-ins along
   * any one path (parallel branches are counted too).
   */
  static long accumulationLength(GraphDef gd) {
    long k = 0;
    List<NodeDef> nodes = new ArrayList<>(gd.getNodeList());
    for (FunctionDef f : gd.getLibrary().getFunctionList()) {
      nodes.addAll(f.getNodeDefList());
    }
    for (NodeDef n : nodes) {
      if (!n.getOp().equals("VariableV2") || !n.containsAttr("shape")) {
        continue;
      }
      var dims = n.getAttrOrThrow("shape").getShape().getDimList();
      if (dims.size() < 2) {
        continue;
      }
      long fanIn = 1;
      for (int i = 0; i < dims.size() - 1; i++) {
        fanIn *= Math.max(1, dims.get(i).getSize());
      }
      k += fanIn;
    }
    return Math.max(1, k);
  }

  static GraphDef graphDef(Path dir) throws IOException {
    SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")));
    MetaGraphDef mg = sm.getMetaGraphs(0);
    return mg.getGraphDef();
  }

  private static void assertFinite(String what, float[] a) {
    for (int i = 0; i < a.length; i++) {
      if (!Float.isFinite(a[i])) {
        fail(what + ": non-finite value " + a[i] + " at [" + i + "]");
      }
    }
  }

  private static int nonZero(float[] a) {
    int n = 0;
    for (float v : a) {
      n += v != 0 ? 1 : 0;
    }
    return n;
  }
}
