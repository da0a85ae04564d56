package dev.segcam.backend.cpu;

import dev.segcam.backend.cpu.grad.GradCheck;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Ad-hoc timing of the backward pass on a ~2M-parameter U-Net at 256x256 (a program, not a test).
 * Times the engine's forward and the backward to the bottleneck and to the first layer; with
 * threads = 1 in thread CPU time (the build machine is shared). Args: size threads reps.
 */
public final class CpuBackwardBench {
  private CpuBackwardBench() {}

  static Graph unet(Random rnd, int size) {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, size, size, 3)));
    int[] ch = {16, 32, 64, 128, 256};
    String prev = "x";
    int cin = 3;
    String[] skips = new String[ch.length];
    for (int l = 0; l < ch.length; l++) {
      prev = convRelu(b, rnd, "e" + l + "a", prev, cin, ch[l]);
      prev = convRelu(b, rnd, "e" + l + "b", prev, ch[l], ch[l]);
      skips[l] = prev;
      cin = ch[l];
      if (l < ch.length - 1) {
        b.add("pool" + l, new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), prev);
        prev = "pool" + l;
      }
    }
    for (int l = ch.length - 2; l >= 0; l--) {
      b.add(
          "up" + l,
          new Op.Conv2DTranspose(
              GradCheck.tensor(rnd, Shape.of(2, 2, ch[l], cin)),
              GradCheck.tensor(rnd, Shape.of(ch[l])),
              2,
              2,
              Padding.SAME,
              -1,
              -1),
          prev);
      b.add("cat" + l, new Op.Concat(3), "up" + l, skips[l]);
      prev = convRelu(b, rnd, "d" + l + "a", "cat" + l, 2 * ch[l], ch[l]);
      prev = convRelu(b, rnd, "d" + l + "b", prev, ch[l], ch[l]);
      cin = ch[l];
    }
    b.add(
        "logits",
        new Op.Conv2D(
            GradCheck.tensor(rnd, Shape.of(1, 1, cin, 4)), null, 1, 1, 1, 1, Padding.SAME),
        prev);
    b.add("probs", new Op.Softmax(), "logits");
    b.output("probs", "probs");
    return b.build();
  }

  private static String convRelu(
      Graph.Builder b, Random rnd, String name, String in, int c, int f) {
    float s = (float) Math.sqrt(2.0 / (9 * c));
    FloatTensor w = GradCheck.tensor(rnd, Shape.of(3, 3, c, f));
    for (int i = 0; i < w.size(); i++) {
      w.data()[i] *= s;
    }
    b.add(name, new Op.Conv2D(w, GradCheck.tensor(rnd, Shape.of(f)), 1, 1, 1, 1, Padding.SAME), in);
    b.add(name + "_relu", new Op.Activation(ActivationKind.RELU, 0), name);
    return name + "_relu";
  }

  public static void main(String[] args) {
    int size = Integer.parseInt(args.length > 0 ? args[0] : "256");
    int threads = Integer.parseInt(args.length > 1 ? args[1] : "2");
    int reps = Integer.parseInt(args.length > 2 ? args[2] : "5");
    Random rnd = new Random(7);
    Graph g = unet(rnd, size);
    long params = g.nodes().stream().mapToLong(n -> n.op().parameterCount()).sum();
    java.lang.management.ThreadMXBean cpu =
        java.lang.management.ManagementFactory.getThreadMXBean();
    boolean cpuTime = threads == 1;
    FloatTensor image = GradCheck.tensor(rnd, Shape.of(1, size, size, 3));
    Map<String, FloatTensor> values;
    try (CpuEngine engine = new CpuEngine(g, threads)) {
      double[] t = new double[reps];
      values = null;
      for (int r = 0; r < reps; r++) {
        long t0 = cpuTime ? cpu.getCurrentThreadCpuTime() : System.nanoTime();
        values = engine.forward(Map.of("x", image), null);
        t[r] = ((cpuTime ? cpu.getCurrentThreadCpuTime() : System.nanoTime()) - t0) / 1e6;
      }
      Arrays.sort(t);
      System.out.printf(
          "U-Net %dx%d, %d params, %d threads (%s)%nforward (all values kept): median %.1f ms%n",
          size, size, params, threads, cpuTime ? "thread CPU time" : "wall time", t[reps / 2]);
    }
    FloatTensor seed = FloatTensor.zeros(values.get("probs").shape());
    for (int i = 1; i < seed.size(); i += 4) {
      seed.data()[i] = 1f;
    }
    Parallel w = new Parallel(threads);
    for (String layer : List.of("e4b_relu", "e0a_relu")) {
      double[] t = new double[reps];
      for (int r = 0; r < reps; r++) {
        long t0 = cpuTime ? cpu.getCurrentThreadCpuTime() : System.nanoTime();
        CpuBackward.backward(
            g, values, Map.of("probs", seed), List.of(layer), w, CpuOpTable.TABLE, false);
        t[r] = ((cpuTime ? cpu.getCurrentThreadCpuTime() : System.nanoTime()) - t0) / 1e6;
      }
      Arrays.sort(t);
      System.out.printf("backward to %s: median %.1f ms (min %.1f)%n", layer, t[reps / 2], t[0]);
    }
    w.close();
  }
}
