package dev.segcam.bench;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.UnetBench;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Times CpuBackward alone (a program, not a test) through its public entry point only, so the same
 * class times any two builds of the engine side by side (put it on each build's classpath). Cases:
 * a 256x256 U-Net (32..256 channels, 3 levels) back to its first layer, and single layers that
 * isolate one gradient kernel. With threads = 1 the figure is the calling thread's CPU time (the
 * build box is shared, and CPU time is what load disturbs least); otherwise wall time.
 *
 * <p>Args: threads reps [case ...]; cases: unet, wideconv, stridedconv, maxpool, avgpool, resize,
 * matmul.
 */
public final class BackwardTiming {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  private static final int WARMUP = 3;

  private BackwardTiming() {}

  /** A graph, the forward input, the seeded node and the layer whose gradient is asked for. */
  private record Case(Graph graph, String input, FloatTensor image, String seed, String layer) {}

  public static void main(String[] args) {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 15;
    List<String> cases =
        args.length > 2
            ? List.of(args).subList(2, args.length)
            : List.of("unet", "wideconv", "stridedconv", "maxpool", "avgpool", "resize", "matmul");
    boolean cpuTime = threads == 1;
    try (Parallel pool = new Parallel(threads)) {
      for (String name : cases) {
        Case c = build(name, new Random(3));
        Map<String, FloatTensor> values;
        try (CpuEngine engine = new CpuEngine(c.graph(), threads)) {
          values = engine.forward(Map.of(c.input(), c.image()), null);
        }
        FloatTensor out = values.get(c.seed());
        Random r = new Random(5);
        float[] s = new float[out.size()];
        for (int i = 0; i < s.length; i++) {
          s[i] = r.nextFloat() - 0.5f;
        }
        Map<String, FloatTensor> seeds = Map.of(c.seed(), new FloatTensor(out.shape(), s));
        double[] t = new double[reps];
        for (int i = -WARMUP; i < reps; i++) {
          long t0 = cpuTime ? CPU.getCurrentThreadCpuTime() : System.nanoTime();
          CpuBackward.backward(
              c.graph(), values, seeds, List.of(c.layer()), pool, CpuOpTable.TABLE, false);
          long t1 = cpuTime ? CPU.getCurrentThreadCpuTime() : System.nanoTime();
          if (i >= 0) {
            t[i] = (t1 - t0) / 1e6;
          }
        }
        System.out.printf(
            "%-12s threads=%d %s: %s%n", name, threads, cpuTime ? "cpu" : "wall", Stats.of(t));
      }
    }
  }

  private static Case build(String name, Random r) {
    if (name.equals("unet")) {
      Graph g = UnetBench.unet(32, 3, 4, r);
      return new Case(g, "image", rand(r, 1, 256, 256, 3), "logits", "enc0a_relu");
    }
    Graph.Builder b = Graph.builder();
    Shape in;
    Op op;
    if (name.equals("wideconv")) { // pixel-major conv data gradient (>= 128 input channels)
      in = Shape.of(1, 32, 32, 256);
      op = new Op.Conv2D(rand(r, 3, 3, 256, 128), null, 1, 1, 1, 1, Padding.SAME);
    } else if (name.equals("stridedconv")) {
      in = Shape.of(1, 128, 128, 32);
      op = new Op.Conv2D(rand(r, 3, 3, 32, 64), null, 2, 2, 1, 1, Padding.SAME);
    } else if (name.equals("maxpool")) {
      in = Shape.of(1, 128, 128, 32);
      op = new Op.Pool(Op.PoolKind.MAX, 3, 3, 2, 2, Padding.SAME);
    } else if (name.equals("avgpool")) {
      in = Shape.of(1, 128, 128, 32);
      op = new Op.Pool(Op.PoolKind.AVG, 3, 3, 2, 2, Padding.SAME);
    } else if (name.equals("resize")) {
      in = Shape.of(1, 64, 64, 32);
      op = new Op.Resize(Op.ResizeMode.BILINEAR, 256, 256, false, true);
    } else if (name.equals("matmul")) {
      in = Shape.of(64, 1024);
      op = new Op.MatMul(rand(r, 1024, 1000), null);
    } else {
      throw new IllegalArgumentException("unknown case " + name);
    }
    b.add("x", new Op.Input(in));
    b.add("y", op, "x");
    b.add("a", new Op.Activation(Op.ActivationKind.RELU, 0f), "y");
    b.output("out", "a");
    return new Case(b.build(), "x", rand(r, in.dims()), "a", "x");
  }

  private static FloatTensor rand(Random r, int... dims) {
    Shape s = Shape.of(dims);
    float[] x = new float[s.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextFloat() * 2 - 1;
    }
    return new FloatTensor(s, x);
  }
}
