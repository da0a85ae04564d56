package dev.segcam.bench;

import dev.segcam.backend.cpu.CpuBackwardConv;
import dev.segcam.backend.cpu.CpuConv;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.backend.onednn.OneDnnContext;
import dev.segcam.backend.onednn.OneDnnConv;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.savedmodel.SavedModelImporter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Per-op times of oneDNN vs the Java engine for every convolution of the benchmark U-Nets: forward
 * (Conv2D with packed weights as CpuEngine runs it; Conv2DTranspose) and data gradient (the kernel
 * CpuBackward picks; the transposed conv's plain conv), each checked to agree before it is timed,
 * the two sides interleaved (order alternating), medians. oneDNN times include the NHWC copies in
 * and out of its memory objects. Identical layers (same op, geometry) are timed once and counted.
 * Gradients are ReLU-masked (half zeros), as a U-Net's are, which the Java kernel exploits.
 *
 * <pre>
 * bench/onednn-ops.sh [--cases scene-unet:64:1,unet-1.9M:256:1,...] [--target-ms 300]
 * </pre>
 *
 * Prints a table per case and saves bench/results/onednn-ops.json (CPU model, oneDNN ISA, threads,
 * date, commit, load average).
 */
public final class OneDnnOpBench {
  private static final double AGREE_REL = 1e-4; // max|diff| / max|ref| over the whole output

  private record Case(String model, int size, int batch) {}

  private record Row(
      String node,
      String type,
      String geometry,
      int count,
      double gmac,
      String impl,
      Stats javaFwd,
      Stats dnnlFwd,
      Stats javaBwd,
      Stats dnnlBwd,
      double planMs) {}

  private final Parallel par;
  private final OneDnnContext ctx;
  private final double targetMs;
  private final int minReps;
  private final int maxReps;
  private final Random rng = new Random(15);

  private OneDnnOpBench(int threads, double targetMs, int minReps, int maxReps) {
    this.par = new Parallel(threads);
    this.ctx = OneDnnContext.open();
    this.targetMs = targetMs;
    this.minReps = minReps;
    this.maxReps = maxReps;
  }

  public static void main(String[] args) throws IOException {
    String cases =
        "scene-unet:64:1,scene-unet:64:8,unet-1.9M:256:1,unet-1.9M:256:8,unet-1.9M:512:1,"
            + "unet-124class:512:1,unet-classic-31M:512:1";
    String out = "bench/results/onednn-ops.json";
    double targetMs = 300;
    int minReps = 3;
    int maxReps = 15;
    int threads = Runtime.getRuntime().availableProcessors();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--cases" -> cases = args[++i];
        case "--out" -> out = args[++i];
        case "--target-ms" -> targetMs = Double.parseDouble(args[++i]);
        case "--min-reps" -> minReps = Integer.parseInt(args[++i]);
        case "--max-reps" -> maxReps = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    OneDnnProbe.Status s = OneDnnProbe.status();
    System.out.println(Machine.cpuModel() + ", " + Machine.cores() + " cores; " + s.describe());
    if (!s.available()) {
      System.exit(2);
    }
    double[] loadBefore = Machine.loadAverage();
    OneDnnOpBench b = new OneDnnOpBench(threads, targetMs, minReps, maxReps);
    List<String> caseJson = new ArrayList<>();
    try {
      for (String c : cases.split(",")) {
        String[] f = c.split(":");
        caseJson.add(b.run(new Case(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]))));
      }
    } finally {
      b.ctx.close();
      b.par.close();
    }
    StringBuilder json = new StringBuilder();
    json.append("{\n  \"benchmark\": \"onednn-ops\",\n")
        .append("  \"date\": \"")
        .append(Machine.nowUtc())
        .append("\",\n")
        .append("  \"commit\": \"")
        .append(Machine.commit())
        .append("\",\n")
        .append("  \"cpu\": \"")
        .append(Machine.cpuModel())
        .append("\",\n")
        .append("  \"cores\": ")
        .append(Machine.cores())
        .append(",\n")
        .append("  \"java_threads\": ")
        .append(threads)
        .append(",\n")
        .append("  \"onednn\": {\"version\": \"")
        .append(s.version())
        .append("\", \"isa\": \"")
        .append(s.isa())
        .append("\", \"omp_threads\": ")
        .append(s.threads())
        .append(", \"omp_wait_policy\": \"")
        .append(System.getenv().getOrDefault("OMP_WAIT_POLICY", "default"))
        .append("\"},\n")
        .append("  \"java\": \"")
        .append(System.getProperty("java.vm.name"))
        .append(' ')
        .append(System.getProperty("java.version"))
        .append("\",\n")
        .append("  \"load_before\": ")
        .append(Machine.loadJson(loadBefore))
        .append(",\n")
        .append("  \"load_after\": ")
        .append(Machine.loadJson(Machine.loadAverage()))
        .append(",\n")
        .append("  \"note\": \"per-op medians in ms; oneDNN includes NHWC copies in/out; totals")
        .append(" weight each distinct layer by its count; gradients ReLU-masked\",\n")
        .append("  \"cases\": [\n")
        .append(String.join(",\n", caseJson))
        .append("\n  ]\n}\n");
    Path p = Paths.get(out);
    Files.createDirectories(p.toAbsolutePath().getParent());
    Files.writeString(p, json);
    System.out.println("saved " + p);
  }

  private Graph graph(String model) {
    return switch (model) {
      case "scene-unet" -> SavedModelImporter.load(Paths.get("weights/scene-unet")).graph();
      case "unet-1.9M" -> IrUnet.build(IrUnet.MEDIUM, 1);
      case "unet-124class" -> IrUnet.build(IrUnet.CLASSES_124, 1);
      case "unet-classic-31M" -> IrUnet.build(IrUnet.CLASSIC, 1);
      default -> throw new IllegalArgumentException("unknown model " + model);
    };
  }

  private String run(Case c) {
    Graph g = graph(c.model());
    String input = g.inputs().get(0);
    Map<String, Shape> shapes =
        g.inferShapes(Map.of(input, Shape.of(c.batch(), c.size(), c.size(), 3)));
    Map<String, Row> rows = new LinkedHashMap<>();
    Map<String, Integer> counts = new LinkedHashMap<>();
    Map<String, Node> first = new LinkedHashMap<>();
    for (Node n : g.nodes()) {
      if (!(n.op() instanceof Op.Conv2D) && !(n.op() instanceof Op.Conv2DTranspose)) {
        continue;
      }
      Shape xs = shapes.get(n.inputs().get(0));
      String key = n.op().type() + " " + geometry(n.op(), xs);
      counts.merge(key, 1, Integer::sum);
      first.putIfAbsent(key, n);
    }
    System.out.printf(
        Locale.ROOT,
        "%n== %s %dx%d batch %d: %d convolutions, %d distinct, %d parameters%n",
        c.model(),
        c.size(),
        c.size(),
        c.batch(),
        counts.values().stream().mapToInt(i -> i).sum(),
        counts.size(),
        IrUnet.parameters(g));
    System.out.printf(
        Locale.ROOT,
        "%-44s %3s %7s | %9s %9s %6s | %9s %9s %6s | %s%n",
        "layer (geometry)",
        "n",
        "GMAC",
        "java fwd",
        "onednn",
        "x",
        "java bwd",
        "onednn",
        "x",
        "oneDNN impl");
    for (Map.Entry<String, Node> e : first.entrySet()) {
      Node n = e.getValue();
      Row r = measure(n, shapes.get(n.inputs().get(0)), counts.get(e.getKey()));
      rows.put(e.getKey(), r);
      System.out.printf(
          Locale.ROOT,
          "%-44s %3d %7.3f | %9.2f %9.2f %6.2f | %9.2f %9.2f %6.2f | %s%n",
          n.name() + " " + r.geometry().replaceAll(" pad.*", ""),
          r.count(),
          r.gmac(),
          r.javaFwd().median(),
          r.dnnlFwd().median(),
          r.javaFwd().median() / r.dnnlFwd().median(),
          r.javaBwd().median(),
          r.dnnlBwd().median(),
          r.javaBwd().median() / r.dnnlBwd().median(),
          r.impl());
    }
    double jf = 0, df = 0, jb = 0, db = 0;
    for (Row r : rows.values()) {
      jf += r.count() * r.javaFwd().median();
      df += r.count() * r.dnnlFwd().median();
      jb += r.count() * r.javaBwd().median();
      db += r.count() * r.dnnlBwd().median();
    }
    System.out.printf(
        Locale.ROOT,
        "total convs: forward java %.1f ms, oneDNN %.1f ms (%.2fx); data gradient java %.1f ms,"
            + " oneDNN %.1f ms (%.2fx)%n",
        jf,
        df,
        jf / df,
        jb,
        db,
        jb / db);
    StringBuilder s = new StringBuilder();
    s.append(
        String.format(
            Locale.ROOT,
            "    {\"model\": \"%s\", \"input\": [%d, %d, %d, 3], \"parameters\": %d,%n"
                + "     \"total_ms\": {\"java_fwd\": %.2f, \"onednn_fwd\": %.2f, \"java_bwd\": %.2f,"
                + " \"onednn_bwd\": %.2f, \"speedup_fwd\": %.2f, \"speedup_bwd\": %.2f},%n"
                + "     \"layers\": [%n",
            c.model(),
            c.batch(),
            c.size(),
            c.size(),
            IrUnet.parameters(g),
            jf,
            df,
            jb,
            db,
            jf / df,
            jb / db));
    List<String> layers = new ArrayList<>();
    for (Row r : rows.values()) {
      layers.add(
          String.format(
              Locale.ROOT,
              "      {\"node\": \"%s\", \"op\": \"%s\", \"geometry\": \"%s\", \"count\": %d,"
                  + " \"gmac\": %.4f, \"onednn_impl\": \"%s\", \"plan_ms\": %.1f,"
                  + " \"java_fwd\": %s, \"onednn_fwd\": %s, \"java_bwd\": %s, \"onednn_bwd\": %s}",
              r.node(),
              r.type(),
              r.geometry(),
              r.count(),
              r.gmac(),
              r.impl(),
              r.planMs(),
              r.javaFwd().json(),
              r.dnnlFwd().json(),
              r.javaBwd().json(),
              r.dnnlBwd().json()));
    }
    s.append(String.join(",\n", layers)).append("\n     ]}");
    return s.toString();
  }

  private static String geometry(Op op, Shape xs) {
    return op instanceof Op.Conv2D c
        ? conv2dGeometry(c, xs).toString()
        : transposeGeometry((Op.Conv2DTranspose) op, xs).toString();
  }

  private static ConvGeometry conv2dGeometry(Op.Conv2D op, Shape x) {
    return ConvGeometry.ofConv(op, x);
  }

  private static ConvGeometry transposeGeometry(Op.Conv2DTranspose op, Shape x) {
    return ConvGeometry.ofTransposed(op, x, CpuConv.conv2dTransposeShape(x, op));
  }

  private Row measure(Node n, Shape xs, int count) {
    FloatTensor x = uniform(xs, 0f, 1f);
    Supplier<float[]> javaFwd;
    Supplier<float[]> javaBwd;
    Supplier<float[]> dnnlFwd;
    Supplier<float[]> dnnlBwd;
    ConvGeometry g;
    FloatTensor dy;
    long t0 = System.nanoTime();
    OneDnnConv fwd;
    OneDnnConv bwd;
    if (n.op() instanceof Op.Conv2D op) {
      g = conv2dGeometry(op, xs);
      fwd = OneDnnConv.conv2d(ctx, op, xs);
      bwd = OneDnnConv.conv2dData(ctx, op, xs);
      dy = reluMasked(Shape.of(g.n(), g.oh(), g.ow(), g.f()));
      CpuConv.PackedConv packed = CpuConv.PackedConv.of(op.filter());
      javaFwd = () -> CpuConv.conv2d(par, x, op, packed).data();
      boolean channelMajor = g.sh() == 1 && g.sw() == 1 && g.c() < 128; // as CpuBackward picks
      float[] filter = op.filter().data();
      float[] dyd = dy.data();
      javaBwd =
          channelMajor
              ? () -> CpuBackwardConv.conv2dData(par, dyd, filter, g)
              : () -> ConvGrad.conv2dDataPixelMajor(dyd, filter, g, par);
    } else {
      Op.Conv2DTranspose op = (Op.Conv2DTranspose) n.op();
      g = transposeGeometry(op, xs);
      fwd = OneDnnConv.transpose(ctx, op, xs);
      bwd = OneDnnConv.transposeData(ctx, op, xs);
      Shape outShape = CpuConv.conv2dTransposeShape(xs, op);
      dy = reluMasked(outShape);
      javaFwd = () -> CpuConv.conv2dTranspose(par, x, op, outShape).data();
      Op.Conv2D asConv =
          new Op.Conv2D(op.filter(), null, op.strideH(), op.strideW(), 1, 1, op.padding());
      FloatTensor dyt = dy;
      javaBwd = () -> CpuConv.conv2d(par, dyt, asConv).data();
    }
    double planMs = (System.nanoTime() - t0) / 1e6;
    float[] fwdOut = new float[fwd.outputSize()];
    float[] bwdOut = new float[bwd.outputSize()];
    float[] xd = x.data();
    float[] dyd = dy.data();
    dnnlFwd = () -> fwd.run(xd, fwdOut);
    dnnlBwd = () -> bwd.run(dyd, bwdOut);
    agree(n.name() + " forward", javaFwd.get(), dnnlFwd.get());
    agree(n.name() + " data gradient", javaBwd.get(), dnnlBwd.get());
    Stats[] f = interleaved(javaFwd, dnnlFwd);
    Stats[] b = interleaved(javaBwd, dnnlBwd);
    return new Row(
        n.name(),
        n.op().type(),
        g.toString(),
        count,
        g.macs() / 1e9,
        fwd.implementation(),
        f[0],
        f[1],
        b[0],
        b[1],
        planMs);
  }

  // Both sides alternately (order flipping each rep) until targetMs of the slower side or maxReps.
  private Stats[] interleaved(Supplier<float[]> a, Supplier<float[]> b) {
    a.get(); // warm
    b.get();
    List<Double> ta = new ArrayList<>();
    List<Double> tb = new ArrayList<>();
    double spent = 0;
    for (int rep = 0; rep < maxReps && (rep < minReps || spent < targetMs); rep++) {
      boolean aFirst = rep % 2 == 0;
      double x = time(aFirst ? a : b);
      double y = time(aFirst ? b : a);
      ta.add(aFirst ? x : y);
      tb.add(aFirst ? y : x);
      spent += Math.max(x, y);
    }
    return new Stats[] {Stats.of(toArray(ta)), Stats.of(toArray(tb))};
  }

  private static double time(Supplier<float[]> f) {
    long t = System.nanoTime();
    f.get();
    return (System.nanoTime() - t) / 1e6;
  }

  private static double[] toArray(List<Double> l) {
    return l.stream().mapToDouble(Double::doubleValue).toArray();
  }

  private static void agree(String what, float[] ref, float[] got) {
    double maxRef = 0;
    double maxDiff = 0;
    for (int i = 0; i < ref.length; i++) {
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
      maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
    }
    if (ref.length != got.length || !(maxDiff <= AGREE_REL * maxRef)) {
      throw new IllegalStateException(
          String.format(
              "%s: oneDNN and Java disagree, max |diff| %.3g vs max |ref| %.3g",
              what, maxDiff, maxRef));
    }
  }

  private FloatTensor uniform(Shape s, float lo, float hi) {
    float[] v = new float[s.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = lo + (hi - lo) * rng.nextFloat();
    }
    return new FloatTensor(s, v);
  }

  private FloatTensor reluMasked(Shape s) {
    float[] v = new float[s.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextBoolean() ? 0f : rng.nextFloat() * 2 - 1;
    }
    return new FloatTensor(s, v);
  }
}
