package dev.segcam.bench;

import dev.segcam.backend.BackwardPlan;
import dev.segcam.backend.OpTable;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuFusion;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.onednn.OneDnnConcat;
import dev.segcam.backend.onednn.OneDnnContext;
import dev.segcam.backend.onednn.OneDnnFusion;
import dev.segcam.backend.onednn.OneDnnOpTable;
import dev.segcam.backend.onednn.OneDnnPrimitive;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.ObservedFusion;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Where the oneDNN forward of a Seg-Grad-CAM step goes (a program, not a test): the 1.9M U-Net
 * ({@link IrUnet#MEDIUM}) forward keeping what the backward to {@code bottleneck_b/relu} reads, on
 * the oneDNN op table without and with convolution + activation fusion ({@link OneDnnFusion}),
 * interleaved (order alternating), on one thread: the figure is the calling thread's CPU time (run
 * with OMP_NUM_THREADS=1 so oneDNN's work is on that thread too; the box is shared, and CPU time is
 * what load disturbs least), wall time beside it. Per op type: summed CPU time of the table's
 * entries. Copies: the floats each node moves between Java arrays and oneDNN's memory, times the
 * per-float cost of {@code FloatPointer.put/get} measured here.
 *
 * <p>Args: size (256), batches (1,8), reps (7), JSON path (bench/results/onednn-forward.json).
 */
public final class OneDnnForwardBench {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  private static final String LAYER = "bottleneck_b/relu";
  private static final int WARMUP = 2;

  private OneDnnForwardBench() {}

  /** Per-op-type CPU ms and floats copied, summed over the forwards of one variant. */
  private static final class Tally {
    final Map<String, Double> ms = new TreeMap<>();
    final long[] prof = new long[3];
    long floats;

    void add(String type, long nanos, long moved) {
      ms.merge(type, nanos / 1e6, Double::sum);
      floats += moved;
    }
  }

  private static Tally current;

  public static void main(String[] args) {
    int size = args.length > 0 ? Integer.parseInt(args[0]) : 256;
    List<Integer> batches = new ArrayList<>();
    for (String b : (args.length > 1 ? args[1] : "1,8").split(",")) {
      batches.add(Integer.parseInt(b));
    }
    int reps = args.length > 2 ? Integer.parseInt(args[2]) : 7;
    Path out = Path.of(args.length > 3 ? args[3] : "bench/results/onednn-forward.json");
    // fusion (default): unfused vs fused; concat: both fused, Concat on oneDNN (OneDnnConcat) vs on
    // the Java engine (what the table runs)
    boolean concat = args.length > 4 && args[4].equals("concat");
    OneDnnProbe.Status st = OneDnnProbe.status();
    if (!st.available()) {
      throw new IllegalStateException(st.describe());
    }
    Graph g = IrUnet.build(IrUnet.MEDIUM, 1);
    String logits = g.outputs().get("logits");
    Set<String> keep = BackwardPlan.valuesFor(g, Set.of(logits, LAYER));
    double[] copy = copyNanosPerFloat();
    System.out.printf(
        "%s; %s; copy put %.3f ns/float, get %.3f ns/float%n",
        Machine.cpuModel(), st.describe(), copy[0], copy[1]);
    StringBuilder rows = new StringBuilder();
    try (OneDnnContext ctx = OneDnnContext.open()) {
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table = timed(OneDnnOpTable.of(ctx));
      CpuFusion fusion = timed(OneDnnFusion.of(ctx));
      for (int batch : batches) {
        FloatTensor image = image(batch, size);
        Map<String, FloatTensor> in = Map.of(IrUnet.INPUT, image);
        try (CpuEngine plain =
                concat
                    ? new CpuEngine(g, 1, withOneDnnConcat(table, ctx), fusion)
                    : new CpuEngine(g, 1, table);
            CpuEngine fused = new CpuEngine(g, 1, table, fusion)) {
          CpuEngine[] engines = {plain, fused};
          String[] names =
              concat
                  ? new String[] {"fused, oneDNN Concat", "fused, Java Concat"}
                  : new String[] {"unfused", "fused"};
          double[][] cpu = new double[2][reps];
          double[][] wall = new double[2][reps];
          Tally[] tallies = {new Tally(), new Tally()};
          for (int r = -WARMUP; r < reps; r++) {
            for (int k = 0; k < 2; k++) {
              int v = (r & 1) == 0 ? k : 1 - k;
              current = r >= 0 ? tallies[v] : new Tally();
              long c0 = CPU.getCurrentThreadCpuTime();
              long w0 = System.nanoTime();
              OneDnnPrimitive.profile(true);
              try (CpuEngine.Run run = engines[v].forwardPass(in, keep)) {
                run.values().size();
              }
              long[] p = OneDnnPrimitive.profile(true);
              for (int i = 0; i < 3; i++) {
                current.prof[i] += p[i];
              }
              if (r >= 0) {
                cpu[v][r] = (CPU.getCurrentThreadCpuTime() - c0) / 1e6;
                wall[v][r] = (System.nanoTime() - w0) / 1e6;
              }
            }
          }
          for (int v = 0; v < 2; v++) {
            Tally t = tallies[v];
            double copyMs = t.floats / (double) reps * (copy[0] + copy[1]) / 2 / 1e6;
            StringBuilder types = new StringBuilder();
            for (Map.Entry<String, Double> e : t.ms.entrySet()) {
              types.append(types.length() == 0 ? "" : ", ");
              types.append(String.format("\"%s\": %.2f", e.getKey(), e.getValue() / reps));
            }
            System.out.printf(
                "%dx%d b%d %-8s cpu %s%n    wall %s%n    per op type (cpu ms): {%s}%n"
                    + "    copies: %.1f MB per forward, ~%.1f ms at the hot rate;"
                    + " measured in primitives: copy in %.1f ms, execute %.1f ms, copy out %.1f ms%n",
                size,
                size,
                batch,
                names[v],
                Stats.of(cpu[v]),
                Stats.of(wall[v]),
                types,
                t.floats * 4.0 / reps / 1e6,
                copyMs,
                t.prof[0] / 1e6 / reps,
                t.prof[1] / 1e6 / reps,
                t.prof[2] / 1e6 / reps);
            rows.append(rows.length() == 0 ? "" : ",\n")
                .append(
                    String.format(
                        "    {\"size\": %d, \"batch\": %d, \"variant\": \"%s\", \"cpu_ms\": %s,"
                            + " \"wall_ms\": %s, \"op_type_cpu_ms\": {%s},"
                            + " \"copied_mb\": %.1f, \"copy_ms_estimate\": %.1f,"
                            + " \"primitive_ms\": {\"copy_in\": %.2f, \"execute\": %.2f,"
                            + " \"copy_out\": %.2f}}",
                        size,
                        batch,
                        names[v],
                        Stats.of(cpu[v]).json(),
                        Stats.of(wall[v]).json(),
                        types,
                        t.floats * 4.0 / reps / 1e6,
                        copyMs,
                        t.prof[0] / 1e6 / reps,
                        t.prof[1] / 1e6 / reps,
                        t.prof[2] / 1e6 / reps));
          }
        }
      }
    }
    String json =
        String.format(
            "{%n  \"benchmark\": \"oneDNN forward of the Seg-Grad-CAM step, unfused vs conv+activation"
                + " fused\",%n  \"model\": \"%s\", \"layer\": \"%s\",%n  \"cpu\": %s, \"cores\": %d,"
                + " \"onednn\": %s,%n  \"omp_num_threads\": %s, \"load_average\": %s,%n"
                + "  \"date\": \"%s\", \"commit\": \"%s\",%n"
                + "  \"copy_ns_per_float\": {\"put\": %.3f, \"get\": %.3f},%n  \"runs\": [%n%s%n  ]%n}%n",
            IrUnet.MEDIUM.name(),
            LAYER,
            Machine.jsonString(Machine.cpuModel()),
            Machine.cores(),
            Machine.jsonString(st.describe()),
            Machine.jsonString(String.valueOf(System.getenv("OMP_NUM_THREADS"))),
            Machine.loadJson(Machine.loadAverage()),
            Machine.nowUtc(),
            Machine.commit(),
            copy[0],
            copy[1],
            rows);
    Machine.write(out, json);
    System.out.println("wrote " + out);
  }

  private static FloatTensor image(int batch, int size) {
    Random r = new Random(7);
    Shape s = Shape.of(batch, size, size, 3);
    float[] x = new float[s.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextFloat();
    }
    return new FloatTensor(s, x);
  }

  // median ns per float of FloatPointer.put(float[]) and get(float[]) over 8 MB
  private static double[] copyNanosPerFloat() {
    int n = 2 << 20;
    float[] a = new float[n];
    double[][] t = new double[2][15];
    try (FloatPointer p = new FloatPointer(n)) {
      for (int r = 0; r < 15; r++) {
        long t0 = System.nanoTime();
        p.put(a);
        long t1 = System.nanoTime();
        p.get(a);
        long t2 = System.nanoTime();
        t[0][r] = (t1 - t0) / (double) n;
        t[1][r] = (t2 - t1) / (double) n;
      }
    }
    return new double[] {Stats.of(t[0]).median(), Stats.of(t[1]).median()};
  }

  private static OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> timed(
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> t) {
    OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> out = new OpTable<>(t.backend());
    for (Class<?> c : Op.class.getPermittedSubclasses()) {
      @SuppressWarnings("unchecked")
      Class<? extends Op> op = (Class<? extends Op>) c;
      OpTable.Entry<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> e = t.find(op);
      if (e == null) {
        continue;
      }
      CpuOpTable.Forward<Op> f = e.forward();
      out.put(
          op,
          (eng, o, in, shape) -> {
            long c0 = CPU.getCurrentThreadCpuTime();
            FloatTensor v = f.run(eng, o, in, shape);
            current.add(o.type(), CPU.getCurrentThreadCpuTime() - c0, moved(in, v));
            return v;
          },
          e.backward());
    }
    return out;
  }

  // t with Concat on oneDNN's primitive (timed under "Concat (oneDNN)")
  private static OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> withOneDnnConcat(
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> t, OneDnnContext ctx) {
    OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> out = new OpTable<>(t.backend());
    for (Class<?> c : Op.class.getPermittedSubclasses()) {
      @SuppressWarnings("unchecked")
      Class<? extends Op> op = (Class<? extends Op>) c;
      OpTable.Entry<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> e = t.find(op);
      if (e != null) {
        CpuOpTable.Forward<Op> f =
            op == Op.Concat.class
                ? (eng, o, in, shape) -> {
                  long c0 = CPU.getCurrentThreadCpuTime();
                  List<Shape> shapes = new ArrayList<>();
                  List<float[]> data = new ArrayList<>();
                  for (FloatTensor x : in) {
                    shapes.add(x.shape());
                    data.add(x.data());
                  }
                  OneDnnConcat p = OneDnnConcat.of(ctx, shapes, ((Op.Concat) o).axis(), shape);
                  FloatTensor v = new FloatTensor(shape, p.run(data));
                  current.add("Concat (oneDNN)", CPU.getCurrentThreadCpuTime() - c0, moved(in, v));
                  return v;
                }
                : e.forward();
        out.put(op, f, e.backward());
      }
    }
    return out;
  }

  private static CpuFusion timed(CpuFusion f) {
    return new ObservedFusion(
        f,
        (producer, act, in, v, nanos) ->
            current.add(producer.type() + "+" + act.type(), nanos, moved(in, v)));
  }

  private static long moved(List<FloatTensor> in, FloatTensor out) {
    long n = out.size();
    for (FloatTensor x : in) {
      n += x.size();
    }
    return n;
  }
}
