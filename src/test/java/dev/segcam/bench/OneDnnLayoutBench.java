package dev.segcam.bench;

import dev.segcam.backend.onednn.OneDnnProbe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * Does a chain of convolutions run faster with activations in the layout oneDNN picks ({@code any},
 * typically nChw16c on AVX-512) than in NHWC? For L 3x3 SAME conv+bias layers C->C at one
 * resolution (a U-Net level), times the chain with NHWC activations against the chain with oneDNN's
 * layout plus the reorders from and to NHWC at its two edges. Both chains get the same weights and
 * input and must agree. Raw oneDNN API, no Java copies inside the chain.
 *
 * <pre>
 * bench/onednn-layouts.sh [--reps 15] [--out bench/results/onednn-layouts.json]
 * </pre>
 */
public final class OneDnnLayoutBench {
  // {N,H,W,C,L}: the 1.9M U-Net's levels at 256x256, one at batch 8
  private static final int[][] CASES = {
    {1, 256, 256, 32, 4},
    {1, 128, 128, 64, 4},
    {1, 64, 64, 128, 4},
    {1, 32, 32, 256, 4},
    {8, 64, 64, 128, 4},
  };
  private static final double AGREE_REL = 1e-5;

  public static void main(String[] args) throws IOException {
    int reps = 15;
    String out = "bench/results/onednn-layouts.json";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--out" -> out = args[++i];
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    OneDnnProbe.Status s = OneDnnProbe.status();
    System.out.println(Machine.cpuModel() + ", " + Machine.cores() + " cores; " + s.describe());
    if (!s.available()) {
      System.exit(2);
    }
    double[] loadBefore = Machine.loadAverage();
    List<String> rows = new ArrayList<>();
    try (engine eng = new engine(engine.kind.cpu, 0);
        stream strm = new stream(eng)) {
      for (int[] c : CASES) {
        Random rng = new Random(15);
        float[] x = new float[c[0] * c[1] * c[2] * c[3]];
        for (int i = 0; i < x.length; i++) {
          x[i] = rng.nextFloat();
        }
        float[][] w = new float[c[4]][9 * c[3] * c[3]];
        float limit = (float) Math.sqrt(6.0 / (9 * c[3]));
        for (float[] wl : w) {
          for (int i = 0; i < wl.length; i++) {
            wl[i] = (rng.nextFloat() * 2 - 1) * limit;
          }
        }
        float[] yNhwc = new float[x.length];
        float[] yAny = new float[x.length];
        double[] tNhwc = new double[reps];
        double[] tAny = new double[reps];
        String[] layout = new String[1];
        try (Chain a = new Chain(eng, strm, c, w, false);
            Chain b = new Chain(eng, strm, c, w, true)) {
          layout[0] = b.layout;
          a.run(x, yNhwc);
          b.run(x, yAny);
          double maxRef = 0;
          double maxDiff = 0;
          for (int i = 0; i < x.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(yNhwc[i]));
            maxDiff = Math.max(maxDiff, Math.abs(yNhwc[i] - yAny[i]));
          }
          if (!(maxDiff <= AGREE_REL * maxRef)) {
            throw new IllegalStateException("layouts disagree: " + maxDiff + " vs " + maxRef);
          }
          for (int r = 0; r < reps; r++) {
            boolean aFirst = r % 2 == 0;
            double t1 = time(aFirst ? a : b, x, aFirst ? yNhwc : yAny);
            double t2 = time(aFirst ? b : a, x, aFirst ? yAny : yNhwc);
            tNhwc[r] = aFirst ? t1 : t2;
            tAny[r] = aFirst ? t2 : t1;
          }
        }
        Stats sn = Stats.of(tNhwc);
        Stats sa = Stats.of(tAny);
        System.out.printf(
            Locale.ROOT,
            "x(%d,%d,%d,%d) x %d convs: NHWC %8.2f ms, %s+edge reorders %8.2f ms (NHWC/any %.2f)%n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            sn.median(),
            layout[0],
            sa.median(),
            sn.median() / sa.median());
        rows.add(
            String.format(
                Locale.ROOT,
                "    {\"input\": [%d, %d, %d, %d], \"convs\": %d, \"chosen_layout\": \"%s\","
                    + " \"nhwc\": %s, \"any_with_edge_reorders\": %s}",
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                layout[0],
                sn.json(),
                sa.json()));
      }
    }
    String json =
        "{\n  \"benchmark\": \"onednn-layouts\",\n"
            + "  \"date\": \""
            + Machine.nowUtc()
            + "\",\n"
            + "  \"commit\": \""
            + Machine.commit()
            + "\",\n"
            + "  \"cpu\": \""
            + Machine.cpuModel()
            + "\",\n"
            + "  \"cores\": "
            + Machine.cores()
            + ",\n"
            + "  \"onednn\": {\"version\": \""
            + s.version()
            + "\", \"isa\": \""
            + s.isa()
            + "\", \"omp_threads\": "
            + s.threads()
            + ", \"omp_wait_policy\": \""
            + System.getenv().getOrDefault("OMP_WAIT_POLICY", "default")
            + "\"},\n"
            + "  \"load_before\": "
            + Machine.loadJson(loadBefore)
            + ",\n"
            + "  \"load_after\": "
            + Machine.loadJson(Machine.loadAverage())
            + ",\n"
            + "  \"note\": \"chain of 3x3 SAME conv+bias C->C; medians in ms\",\n"
            + "  \"cases\": [\n"
            + String.join(",\n", rows)
            + "\n  ]\n}\n";
    Path p = Paths.get(out);
    Files.createDirectories(p.toAbsolutePath().getParent());
    Files.writeString(p, json);
    System.out.println("saved " + p);
  }

  private static double time(Chain c, float[] x, float[] y) {
    long t = System.nanoTime();
    c.run(x, y);
    return (System.nanoTime() - t) / 1e6;
  }

  /** L convolutions sharing activation memories; NHWC edges, reorders where layouts differ. */
  private static final class Chain implements AutoCloseable {
    private final PointerScope scope = new PointerScope();
    private final stream strm;
    private final List<primitive> steps = new ArrayList<>();
    private final List<IntMemoryMap> args = new ArrayList<>();
    private final memory in;
    private final memory out;
    final String layout;

    Chain(engine eng, stream strm, int[] c, float[][] w, boolean any) {
      this.strm = strm;
      long[] act = {c[0], c[3], c[1], c[2]};
      memory.desc nhwc = new memory.desc(act, memory.data_type.f32, memory.format_tag.nhwc);
      memory.desc actMd =
          any ? new memory.desc(act, memory.data_type.f32, memory.format_tag.any) : nhwc;
      memory.desc wMd =
          new memory.desc(
              new long[] {c[3], c[3], 3, 3}, memory.data_type.f32, memory.format_tag.any);
      memory.desc wUser =
          new memory.desc(
              new long[] {c[3], c[3], 3, 3}, memory.data_type.f32, memory.format_tag.hwio);
      memory.desc bMd =
          new memory.desc(new long[] {c[3]}, memory.data_type.f32, memory.format_tag.x);
      in = new memory(nhwc, eng);
      out = new memory(nhwc, eng);
      memory prev = null;
      String chosen = "nhwc";
      for (int l = 0; l < c[4]; l++) {
        convolution_forward.primitive_desc pd =
            new convolution_forward.primitive_desc(
                eng,
                dnnl.prop_kind.forward_inference,
                dnnl.algorithm.convolution_direct,
                actMd,
                wMd,
                bMd,
                actMd,
                new long[] {1, 1},
                new long[] {0, 0},
                new long[] {1, 1},
                new long[] {1, 1});
        if (prev == null) {
          prev = new memory(pd.src_desc(), eng);
          if (!pd.src_desc().equals(nhwc)) {
            addReorder(in, prev);
            chosen = pd.src_desc().get_inner_nblks() > 0 ? "blocked" : "plain";
          } else {
            prev = in;
          }
        } else if (!pd.src_desc().equals(prev.get_desc())) {
          memory r = new memory(pd.src_desc(), eng);
          addReorder(prev, r);
          prev = r;
        }
        memory user = new memory(wUser, eng);
        new FloatPointer(user.get_data_handle()).put(w[l]);
        memory wm = new memory(pd.weights_desc(), eng);
        try (reorder r = new reorder(user, wm)) {
          r.execute(strm, user, wm);
          strm._wait();
        }
        memory bm = new memory(bMd, eng);
        new FloatPointer(bm.get_data_handle()).put(new float[c[3]]);
        memory dst =
            l == c[4] - 1 && pd.dst_desc().equals(nhwc) ? out : new memory(pd.dst_desc(), eng);
        IntMemoryMap m = new IntMemoryMap();
        m.put(dnnl.DNNL_ARG_SRC, prev);
        m.put(dnnl.DNNL_ARG_WEIGHTS, wm);
        m.put(dnnl.DNNL_ARG_BIAS, bm);
        m.put(dnnl.DNNL_ARG_DST, dst);
        steps.add(new convolution_forward(pd));
        args.add(m);
        prev = dst;
      }
      if (prev != out) {
        addReorder(prev, out);
      }
      layout = chosen;
    }

    private void addReorder(memory from, memory to) {
      IntMemoryMap m = new IntMemoryMap();
      m.put(dnnl.DNNL_ARG_FROM, from);
      m.put(dnnl.DNNL_ARG_TO, to);
      steps.add(new reorder(from, to));
      args.add(m);
    }

    void run(float[] x, float[] y) {
      new FloatPointer(in.get_data_handle()).put(x);
      for (int i = 0; i < steps.size(); i++) {
        steps.get(i).execute(strm, args.get(i));
      }
      strm._wait();
      new FloatPointer(out.get_data_handle()).get(y);
    }

    @Override
    public void close() {
      scope.close();
    }
  }
}
