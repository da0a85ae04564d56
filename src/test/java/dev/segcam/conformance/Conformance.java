package dev.segcam.conformance;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.ModelZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.TfOracle;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * One zoo model imported by segcam, its TensorFlow oracle, the IR node of each declared TF tensor,
 * and a fresh random input. Closing it closes the oracle.
 */
final class Conformance implements AutoCloseable {
  final ModelZoo.Model model;
  final Graph graph;
  final String inputNode;
  final String outputNode;

  /** TF tensor -> IR node, for the model's declared intermediates. */
  final Map<String, String> irNames = new LinkedHashMap<>();

  final FloatTensor input;
  final Random rng;
  final TfOracle tf;

  private Conformance(String name, int n, String test) {
    this.model = ModelZoo.get(name);
    this.graph = SavedModelImporter.load(model.dir()).graph();
    this.inputNode = graph.inputs().get(0);
    this.outputNode = graph.outputs().get("output");
    this.tf = TfOracle.load(model.dir(), model.intermediates());
    TfToIr map = TfToIr.of(model.dir(), graph);
    for (String t : model.intermediates()) {
      irNames.put(t, map.irName(t, staticShape(t)));
    }
    System.out.println(name + ": TF tensor -> IR node " + irNames);
    this.rng = new Random(RandomTensors.freshSeed(test + "." + name));
    FloatTensor x = RandomTensors.input(rng, model.inputShape(n));
    // Gradients are compared at the drawn point: a ReLU input within float32 reassociation of its
    // kink may take the other side in TensorFlow, and the whole gradient behind it flips. Draw
    // again until no activation input is that close to a kink (a few draws at most).
    int draws = 1;
    for (; nearKink(graph, inputNode, x); draws++) {
      if (draws == MAX_DRAWS) {
        throw new IllegalStateException(name + ": " + MAX_DRAWS + " inputs in a row hit a kink");
      }
      x = RandomTensors.input(rng, model.inputShape(n));
    }
    this.input = x;
    if (draws > 1) {
      System.out.println(name + ": input drawn " + draws + " times (ReLU kinks)");
    }
  }

  /** Relative distance to a ReLU kink (of max |x| of that tensor) below which a draw is refused. */
  private static final double KINK = 5e-6;

  private static final int MAX_DRAWS = 200;

  private static boolean nearKink(Graph g, String inputNode, FloatTensor x) {
    Map<String, FloatTensor> values;
    try (dev.segcam.backend.cpu.CpuEngine e = new dev.segcam.backend.cpu.CpuEngine(g, 1)) {
      values = e.forward(Map.of(inputNode, x), null);
    }
    for (dev.segcam.ir.Node node : g.nodes()) {
      if (!(node.op() instanceof dev.segcam.ir.Op.Activation a)) {
        continue;
      }
      double kink =
          switch (a.kind()) {
            case RELU, LEAKY_RELU -> 0;
            case RELU6 -> -1; // two kinks: 0 and 6
            default -> Double.NaN;
          };
      if (Double.isNaN(kink)) {
        continue;
      }
      float[] v = values.get(node.inputs().get(0)).data();
      double max = 0;
      for (float f : v) {
        max = Math.max(max, Math.abs(f));
      }
      double eps = KINK * Math.max(max, Float.MIN_NORMAL);
      for (float f : v) {
        if (Math.abs(f) <= eps || (kink < 0 && Math.abs(f - 6) <= eps)) {
          return true;
        }
      }
    }
    return false;
  }

  /** Exports (once per JVM) and imports the model; draws an input of batch n from a fresh seed. */
  static Conformance of(String name, int n, String test) {
    return new Conformance(name, n, test);
  }

  /** Batch to use: 2, or the model's own fixed batch. */
  static int batch(String name) {
    ModelZoo.Model m = ModelZoo.get(name);
    return m.fixedBatch() ? (int) m.inputShape()[0] : 2;
  }

  private Shape staticShape(String tensor) {
    long[] d = tf.graph().outputOrThrow(tensor).shape().asArray();
    int[] s = new int[d.length];
    for (int i = 0; i < d.length; i++) {
      s[i] = (int) d[i];
    }
    return Shape.of(s);
  }

  @Override
  public void close() {
    tf.close();
  }
}
