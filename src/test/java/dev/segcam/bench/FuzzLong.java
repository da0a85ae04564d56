package dev.segcam.bench;

import dev.segcam.reliability.Fuzzer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The long fuzz run (bench/fuzz.sh): N mutated SavedModels, each imported (+ one CPU forward) on a
 * worker thread with a timeout; counts successes, typed errors and offenders (typed errors that do
 * not name the file / node, untyped exceptions, Errors, hangs) and saves them as JSON. Args: N
 * [seed0] [timeoutMs] [out.json].
 */
public final class FuzzLong {
  private FuzzLong() {}

  /** JSON names of the outcomes in per_kind. */
  private static final Map<Fuzzer.Outcome, String> KEYS =
      Map.of(
          Fuzzer.Outcome.OK, "success",
          Fuzzer.Outcome.TYPED, "typed",
          Fuzzer.Outcome.VAGUE, "vague",
          Fuzzer.Outcome.UNTYPED, "untyped",
          Fuzzer.Outcome.ERROR, "error",
          Fuzzer.Outcome.HANG, "hang");

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    long seed0 = args.length > 1 ? Long.parseLong(args[1]) : 1_000_000L;
    long timeoutMs = args.length > 2 ? Long.parseLong(args[2]) : 60_000;
    Path out = Path.of(args.length > 3 ? args[3] : "bench/results/fuzz-long.json");
    Path work = Files.createTempDirectory("segcam-fuzz");
    Map<Fuzzer.Outcome, Integer> counts = new EnumMap<>(Fuzzer.Outcome.class);
    Map<Fuzzer.Kind, int[]> perKind = new EnumMap<>(Fuzzer.Kind.class);
    for (Fuzzer.Outcome o : Fuzzer.Outcome.values()) {
      counts.put(o, 0);
    }
    for (Fuzzer.Kind k : Fuzzer.Kind.values()) {
      perKind.put(k, new int[Fuzzer.Outcome.values().length]);
    }
    List<Fuzzer.Result> offenders = new ArrayList<>();
    long t0 = System.nanoTime();
    try (Fuzzer f = new Fuzzer(work, timeoutMs)) {
      for (int i = 0; i < n; i++) {
        Fuzzer.Result r = f.runCase(seed0 + i);
        counts.merge(r.outcome(), 1, Integer::sum);
        perKind.get(r.kind())[r.outcome().ordinal()]++;
        if (r.outcome() != Fuzzer.Outcome.OK && r.outcome() != Fuzzer.Outcome.TYPED) {
          if (offenders.size() < 200) {
            System.out.println("OFFENDER " + r);
          }
          offenders.add(r);
        }
        if ((i + 1) % 500 == 0) {
          System.out.printf(
              "%d/%d cases, %.0f s, %s%n", i + 1, n, (System.nanoTime() - t0) / 1e9, counts);
          // a run cut off still leaves its counts so far
          if (i + 1 < n) {
            Machine.write(
                out, json(i + 1, n, seed0, timeoutMs, t0, counts, perKind, offenders, false));
          }
        }
      }
    } finally {
      Fuzzer.class.getName(); // keep the work dir until the end; removed below
      deleteTree(work);
    }
    String j = json(n, n, seed0, timeoutMs, t0, counts, perKind, offenders, true);
    Machine.write(out, j);
    System.out.print(j);
    System.exit(offenders.isEmpty() ? 0 : 1);
  }

  private static String json(
      int done,
      int n,
      long seed0,
      long timeoutMs,
      long t0,
      Map<Fuzzer.Outcome, Integer> counts,
      Map<Fuzzer.Kind, int[]> perKind,
      List<Fuzzer.Result> offenders,
      boolean complete) {
    double seconds = (System.nanoTime() - t0) / 1e9;
    StringBuilder j = new StringBuilder();
    j.append("{\n");
    j.append("  \"program\": \"dev.segcam.bench.FuzzLong\",\n");
    j.append("  \"date\": ").append(Machine.jsonString(Machine.nowUtc())).append(",\n");
    j.append("  \"commit\": ").append(Machine.jsonString(Machine.commit())).append(",\n");
    j.append("  \"device\": ")
        .append(Machine.jsonString(Machine.cpuModel() + ", " + Machine.cores() + " cores"))
        .append(",\n");
    j.append("  \"load_average\": ").append(Machine.loadJson(Machine.loadAverage())).append(",\n");
    j.append("  \"max_heap_mb\": ").append(Runtime.getRuntime().maxMemory() >> 20).append(",\n");
    j.append("  \"first_seed\": ").append(seed0).append(",\n");
    j.append("  \"timeout_ms\": ").append(timeoutMs).append(",\n");
    j.append("  \"cases\": ").append(done).append(",\n");
    j.append("  \"planned_cases\": ").append(n).append(",\n");
    j.append("  \"complete\": ").append(complete).append(",\n");
    j.append("  \"seconds\": ").append(String.format("%.1f", seconds)).append(",\n");
    j.append("  \"success\": ").append(counts.get(Fuzzer.Outcome.OK)).append(",\n");
    j.append("  \"typed_errors\": ").append(counts.get(Fuzzer.Outcome.TYPED)).append(",\n");
    j.append("  \"vague_typed_errors\": ").append(counts.get(Fuzzer.Outcome.VAGUE)).append(",\n");
    j.append("  \"untyped_exceptions\": ").append(counts.get(Fuzzer.Outcome.UNTYPED)).append(",\n");
    j.append("  \"errors\": ").append(counts.get(Fuzzer.Outcome.ERROR)).append(",\n");
    j.append("  \"hangs\": ").append(counts.get(Fuzzer.Outcome.HANG)).append(",\n");
    j.append("  \"offenders\": ").append(offenders.size()).append(",\n");
    j.append("  \"per_kind\": {\n");
    int k = 0;
    for (Map.Entry<Fuzzer.Kind, int[]> e : perKind.entrySet()) {
      int[] c = e.getValue();
      j.append("    \"").append(e.getKey()).append("\": {");
      for (Fuzzer.Outcome o : Fuzzer.Outcome.values()) {
        j.append(o.ordinal() == 0 ? "" : ", ")
            .append('"')
            .append(KEYS.get(o))
            .append("\": ")
            .append(c[o.ordinal()]);
      }
      j.append(++k < perKind.size() ? "},\n" : "}\n");
    }
    j.append("  },\n");
    j.append("  \"first_offenders\": [");
    for (int i = 0; i < Math.min(10, offenders.size()); i++) {
      j.append(i == 0 ? "\n" : ",\n")
          .append("    ")
          .append(Machine.jsonString(offenders.get(i).toString()));
    }
    j.append(offenders.isEmpty() ? "]\n" : "\n  ]\n");
    j.append("}\n");
    return j.toString();
  }

  private static void deleteTree(Path p) {
    try (var w = Files.walk(p)) {
      w.sorted((a, b) -> b.compareTo(a)).forEach(x -> x.toFile().delete());
    } catch (Exception e) {
      // best effort
    }
  }
}
