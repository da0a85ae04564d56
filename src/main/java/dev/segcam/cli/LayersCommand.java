package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.savedmodel.TensorSpec;
import dev.segcam.savedmodel.UnsupportedOpsException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code segcam layers MODEL_DIR}: the imported graph as a table (name, op, output shape,
 * parameters, inputs) with totals, in the spirit of MATLAB's analyzeNetwork. The names printed are
 * the ones other commands accept as a layer.
 */
@Command(
    name = "layers",
    mixinStandardHelpOptions = true,
    description = "List the layers of a SavedModel as segcam imports them.")
public final class LayersCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "SavedModel directory.")
  Path model;

  @Option(
      names = {"-s", "--signature"},
      paramLabel = "NAME",
      description = "Signature to import (default: serving_default, or the only one).")
  String signature;

  @Option(
      names = "--input-shape",
      paramLabel = "[KEY=]N,H,W,C",
      description =
          "Concrete shape for an input (repeatable; KEY may be left out when there is one input)."
              + " Lets sizes that depend on the input fold at import; -1 keeps a dim unknown.")
  List<String> inputShapes = new ArrayList<>();

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    ImportedModel m;
    try {
      m = SavedModelImporter.load(model, signature, parseShapes(inputShapes));
    } catch (UnsupportedOpsException e) {
      printGaps(out, e);
      throw e;
    }
    Graph g = m.graph();
    out.printf("Model: %s%n", m.dir());
    out.printf(
        "Signature: %s%s%n",
        m.signature(),
        m.availableSignatures().size() > 1
            ? "   (available: " + m.availableSignatures() + ")"
            : "");
    for (TensorSpec s : m.inputs()) {
      out.printf(
          "  input  %-16s %-10s %s%n",
          s.key(), s.dtype(), s.shape() == null ? "unknown rank (unused)" : s.shape());
    }
    for (TensorSpec s : m.outputs()) {
      out.printf(
          "  output %-16s %-10s %-16s <- %s%n",
          s.key(), s.dtype(), g.node(s.node()).shape(), s.node());
    }
    for (String note : m.notes()) {
      out.printf("  note: %s%n", note);
    }
    out.println();
    int nameW = "Name".length();
    int typeW = "Type".length();
    int shapeW = "Output shape".length();
    for (Node n : g.nodes()) {
      nameW = Math.max(nameW, n.name().length());
      typeW = Math.max(typeW, n.op().type().length());
      shapeW = Math.max(shapeW, n.shape().toString().length());
    }
    String fmt = "%4s  %-" + nameW + "s  %-" + typeW + "s  %-" + shapeW + "s  %12s  %s%n";
    out.printf(fmt, "#", "Name", "Type", "Output shape", "Params", "Inputs");
    long total = 0;
    int i = 0;
    for (Node n : g.nodes()) {
      long p = n.op().parameterCount();
      total += p;
      out.printf(
          fmt,
          ++i,
          n.name(),
          n.op().type(),
          n.shape(),
          String.format(Locale.ROOT, "%,d", p),
          String.join(", ", n.inputs()));
    }
    out.printf(
        Locale.ROOT,
        "%nTotal: %d layers, %,d parameters (%.2f MB as float32)%n",
        g.nodes().size(),
        total,
        total * 4.0 / (1 << 20));
    out.flush();
    return 0;
  }

  /** The table of every op the import has no conversion for (the error says it in one line). */
  private static void printGaps(PrintWriter out, UnsupportedOpsException e) {
    int nodes = 0;
    int opW = "Op".length();
    for (UnsupportedOpsException.Gap g : e.gaps()) {
      nodes += g.count();
      opW = Math.max(opW, g.op().length());
    }
    out.printf(
        "Model: %s%nUnsupported ops: %d type(s) in %d node(s)%n",
        e.where().file() == null ? "" : e.where().file(), e.gaps().size(), nodes);
    String fmt = "  %-" + opW + "s  %6s  %s%n";
    out.printf(fmt, "Op", "Nodes", "First node");
    for (UnsupportedOpsException.Gap g : e.gaps()) {
      out.printf(
          fmt,
          g.op(),
          g.count(),
          g.firstNode() + (g.function() == null ? "" : "  (in " + g.function() + ")"));
    }
    out.flush();
  }

  /** "[key=]d,d,d" options to shapes; "" for an unnamed one. */
  static Map<String, Shape> parseShapes(List<String> specs) {
    Map<String, Shape> m = new LinkedHashMap<>();
    for (String spec : specs) {
      int eq = spec.indexOf('=');
      String key = eq < 0 ? "" : spec.substring(0, eq).trim();
      String dims = eq < 0 ? spec : spec.substring(eq + 1);
      try {
        String[] parts = dims.split(",");
        int[] d = new int[parts.length];
        for (int i = 0; i < d.length; i++) {
          d[i] = Integer.parseInt(parts[i].trim());
          if (d[i] < -1 || d[i] == 0) {
            throw new NumberFormatException();
          }
        }
        if (m.put(key, Shape.of(d)) != null) {
          throw new ParameterException(
              "--input-shape given twice for " + (key.isEmpty() ? "the input" : key));
        }
      } catch (NumberFormatException e) {
        throw new ParameterException(
            "--input-shape '" + spec + "': expected [KEY=]N,H,W,C with positive sizes or -1");
      }
    }
    return m;
  }

  /** A bad option value: one line, exit code 1. */
  static final class ParameterException extends SegcamException {
    ParameterException(String message) {
      super(message);
    }
  }
}
