package dev.segcam.ir;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Transformer tokens as CAM layers: a layer of shape (N, L, C) whose L is h·w of a known grid is
 * explained on that grid. The grid comes from {@code NAME:HxW}, or else from the graph's own
 * reshapes: a Reshape between (N, h, w, C') and (N, L, C'') with h·w = L (the patch embedding's
 * flatten, a stage's output reshaped back, a Mix-FFN's grid). {@link #apply} inserts the view
 * {@code NAME:grid} = Reshape(NAME) to (N, h, w, C) and its inverse before NAME's readers, so the
 * grid view lies on every path from the layer to the scores: its value is the layer's and its
 * gradient dS/dNAME, both as an image-shaped tensor.
 */
public final class TokenGrids {
  /** Suffix of the inserted grid view's node name. */
  public static final String GRID = ":grid";

  private static final String TOKENS = ":tokens";
  private static final Pattern SPEC = Pattern.compile("(.+):(\\d+)x(\\d+)");

  private TokenGrids() {}

  /** The graph with grid views of the token layers, and the layers to explain (views in place). */
  public record Rewritten(Graph graph, List<String> layers) {}

  /**
   * Resolves layer arguments ({@code NAME} or {@code NAME:HxW}): token layers become their grid
   * views; other layers pass unchanged. Throws {@link ShapeException} naming the layer when a token
   * layer's grid is unknown or does not match its L.
   */
  public static Rewritten apply(Graph g, List<String> layerArgs) {
    return apply(g, layerArgs, UnaryOperator.identity());
  }

  /**
   * {@link #apply(Graph, List)} with the names resolved by {@code resolve} (e.g. an imported
   * model's TensorFlow names to IR nodes) where the graph has no node of that name.
   */
  public static Rewritten apply(Graph g, List<String> layerArgs, UnaryOperator<String> resolve) {
    Map<String, int[]> grids = new HashMap<>();
    List<String> out = new ArrayList<>();
    for (String arg : layerArgs) {
      String name = arg;
      int[] hw = null;
      Matcher m = SPEC.matcher(arg);
      if (!g.contains(arg) && m.matches()) {
        name = m.group(1);
        hw = new int[] {Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
      }
      if (!g.contains(name)) {
        try {
          name = resolve.apply(name);
        } catch (RuntimeException unresolved) {
          // g.node below throws the unknown-layer error with the closest names
        }
      }
      Shape s = g.node(name).shape(); // unknown names throw with close names
      if (s.rank() != 3) {
        if (hw != null) {
          throw new ShapeException(
              "layer '" + name + "' is " + s + ", not tokens (N, L, C); a grid applies to tokens");
        }
        out.add(name);
        continue;
      }
      if (hw == null) {
        hw = findGrid(g, name);
      }
      if (hw == null) {
        throw new ShapeException(
            "layer '"
                + name
                + "' holds tokens "
                + s
                + " and no reshape in the graph gives their grid; name it as '"
                + name
                + ":HxW'");
      }
      if (s.dim(1) != Shape.UNKNOWN && (long) hw[0] * hw[1] != s.dim(1)) {
        throw new ShapeException(
            "layer '" + name + "' has " + s.dim(1) + " tokens, not " + hw[0] + "x" + hw[1]);
      }
      grids.put(name, hw);
      out.add(name + GRID);
    }
    if (grids.isEmpty()) {
      return new Rewritten(g, out);
    }
    Graph.Builder b = Graph.builder();
    Map<String, String> readAs = new HashMap<>();
    for (Node n : g.nodes()) {
      List<String> ins = n.inputs().stream().map(i -> readAs.getOrDefault(i, i)).toList();
      b.add(n.name(), n.op(), ins);
      int[] hw = grids.get(n.name());
      if (hw != null) {
        Shape s = n.shape();
        String grid = n.name() + GRID;
        b.add(grid, new Op.Reshape(Shape.of(hw[0], hw[1], s.dim(2))), n.name());
        b.add(n.name() + TOKENS, new Op.Reshape(Shape.of(s.dim(1), s.dim(2))), grid);
        readAs.put(n.name(), n.name() + TOKENS);
      }
    }
    g.outputs().forEach(b::output);
    return new Rewritten(b.build(), out);
  }

  /**
   * The grid (h, w) of a token layer from the graph's reshapes between rank 4 and rank 3 with h·w
   * equal to its L, the first in graph order; null when there is none.
   */
  public static int[] findGrid(Graph g, String layer) {
    Shape s = g.node(layer).shape();
    int l = s.dim(1);
    if (s.rank() != 3 || l == Shape.UNKNOWN) {
      return null;
    }
    for (Node n : g.nodes()) {
      if (!(n.op() instanceof Op.Reshape) || n.inputs().isEmpty()) {
        continue;
      }
      Shape a = g.node(n.inputs().get(0)).shape();
      Shape b = n.shape();
      Shape grid = a.rank() == 4 && b.rank() == 3 ? a : b.rank() == 4 && a.rank() == 3 ? b : null;
      Shape tokens = grid == a ? b : a;
      if (grid != null
          && tokens.dim(1) == l
          && grid.dim(1) != Shape.UNKNOWN
          && grid.dim(2) != Shape.UNKNOWN
          && (long) grid.dim(1) * grid.dim(2) == l) {
        return new int[] {grid.dim(1), grid.dim(2)};
      }
    }
    return null;
  }
}
