package dev.segcam.conformance;

import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.onednn.OneDnnContext;
import dev.segcam.backend.onednn.OneDnnOpTable;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.ir.Graph;
import dev.segcam.testing.ModelZoo;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The CPU engine's op tables the forward and gradient conformance suites run over: the pure-Java
 * table and oneDNN's (skipped with the probe's reason where oneDNN cannot load, unless
 * -Dsegcam.onednn.required=true).
 */
final class CpuEngines implements AutoCloseable {
  static final List<String> NAMES = List.of("java", "onednn");

  final CpuEngine engine;
  private final OneDnnContext ctx;

  private CpuEngines(CpuEngine engine, OneDnnContext ctx) {
    this.engine = engine;
    this.ctx = ctx;
  }

  /** (table, zoo model) for every table and model. */
  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (String t : NAMES) {
      for (String m : ModelZoo.NAMES) {
        out.add(Arguments.of(t, m));
      }
    }
    return out.stream();
  }

  /** Skips the calling test when the table cannot run here. */
  static void assumeAvailable(String table) {
    if (table.equals("onednn") && !Boolean.getBoolean("segcam.onednn.required")) {
      OneDnnProbe.Status s = OneDnnProbe.status();
      Assumptions.assumeTrue(s.available(), s.describe());
    }
  }

  /** An engine over the graph running the named table. */
  static CpuEngines open(String table, Graph g) {
    int threads = Runtime.getRuntime().availableProcessors();
    if (table.equals("java")) {
      return new CpuEngines(new CpuEngine(g, threads), null);
    }
    OneDnnContext ctx = OneDnnContext.open();
    return new CpuEngines(new CpuEngine(g, threads, OneDnnOpTable.of(ctx)), ctx);
  }

  @Override
  public void close() {
    try (OneDnnContext c = ctx) {
      engine.close();
    }
  }
}
