package dev.segcam.cam;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which feature layer to explain when the caller names none, and whether a layer reaches the scores
 * only through linear ops.
 *
 * <p>Why it matters: when every op between a layer A and the score S is affine (convolutions, bias,
 * batch norm, resizes, concats, pads, reshapes, average pooling, sums), dS/dA does not depend on A,
 * and for a pointwise path (the usual 1x1 classifier) it is the classifier row times the region
 * mask, so Grad-CAM's channel weights are the same for every region up to scale: every region M
 * gives the same normalised map. Seg-Grad-CAM's region only acts through a nonlinearity (ReLU, max
 * pooling, ...) between the layer and the score.
 *
 * <p>The rule (measured in docs/seg-gradcam-table.md):
 *
 * <ul>
 *   <li>Targets over the predicted pixels or the whole image keep the last feature layer before the
 *       classifier ({@link Explainer#defaultLayer()}).
 *   <li>Targets with a region of their own (pixel, box, mask, largest component) take, walking back
 *       from that layer in graph order, the first block output (a feature node not fed straight
 *       into an activation) whose path to the score is not linear and that has at least max(16,
 *       classes) channels; when no layer has that many channels, the first one with a nonlinear
 *       path; when none has one, the last feature layer.
 * </ul>
 */
public final class LayerChoice {
  /** Fewest channels a region layer should have (and at least one per class). */
  public static final int MIN_REGION_CHANNELS = 16;

  private LayerChoice() {}

  /** A chosen layer and the one-line reason for it. */
  public record Choice(String layer, String reason) {}

  /** Whether the target's region is its own (pixel, box, mask, component), not predicted/whole. */
  public static boolean hasOwnRegion(Target t) {
    if (t.region() instanceof Target.Predicted p) {
      return p.largestComponent();
    }
    return !(t.region() instanceof Target.WholeImage);
  }

  /**
   * The default layer for these targets.
   *
   * @param last the last feature layer before the classifier ({@link Explainer#defaultLayer()})
   * @param scoreNode the node the scores are taken on
   * @param classes the number of classes of the output
   */
  public static Choice choose(
      Graph graph, List<Target> targets, String last, String scoreNode, int classes) {
    boolean region = false;
    for (Target t : targets) {
      region |= t != null && hasOwnRegion(t);
    }
    if (!region) {
      return new Choice(
          last,
          "the last feature layer before the classifier (predicted/whole-image targets; see"
              + " docs/seg-gradcam-table.md)");
    }
    int want = Math.max(MIN_REGION_CHANNELS, classes);
    Set<String> anc = ancestors(graph, last);
    List<Node> nodes = graph.nodes();
    String firstNonlinear = null;
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Node n = nodes.get(i);
      if (!anc.contains(n.name()) || !isFeature(n) || feedsActivation(graph, n)) {
        continue;
      }
      if (linearPath(graph, n.name(), scoreNode)) {
        continue;
      }
      if (n.shape().dim(3) >= want) {
        return new Choice(
            n.name(),
            "the last layer with a nonlinear path to the scores and >= "
                + want
                + " channels ("
                + n.shape().dim(3)
                + "), so that the region changes the map");
      }
      if (firstNonlinear == null) {
        firstNonlinear = n.name();
      }
    }
    if (firstNonlinear != null) {
      return new Choice(
          firstNonlinear,
          "the last layer with a nonlinear path to the scores (none has >= "
              + want
              + " channels), so that the region changes the map");
    }
    return new Choice(
        last,
        "the last feature layer before the classifier (no layer has a nonlinear path to the"
            + " scores, so every region gives the same map up to scale)");
  }

  /**
   * Whether every op on every path from {@code layer} to {@code scoreNode} is affine in the layer's
   * values, so that dS/dA does not depend on A. False when the score does not depend on the layer
   * at all.
   */
  public static boolean linearPath(Graph graph, String layer, String scoreNode) {
    Set<String> anc = ancestors(graph, scoreNode);
    if (layer.equals(scoreNode)) {
      return true;
    }
    if (!anc.contains(layer)) {
      return false;
    }
    Set<String> onPath = new HashSet<>();
    onPath.add(layer);
    // graph order is topological: a node is on a path when one of its inputs is
    for (Node n : graph.nodes()) {
      if (n.name().equals(layer) || !anc.contains(n.name())) {
        continue;
      }
      int dependent = 0;
      boolean secondDependent = false;
      for (int i = 0; i < n.inputs().size(); i++) {
        if (onPath.contains(n.inputs().get(i))) {
          dependent++;
          secondDependent |= i == 1;
        }
      }
      if (dependent == 0) {
        continue;
      }
      onPath.add(n.name());
      if (!affine(n.op(), dependent, secondDependent)) {
        return false;
      }
    }
    return true;
  }

  private static boolean affine(Op op, int dependentInputs, boolean secondDependent) {
    if (op instanceof Op.Pool p) {
      return p.kind() == Op.PoolKind.AVG;
    }
    if (op instanceof Op.Binary b) {
      return switch (b.kind()) {
        case ADD, SUB -> true;
        case MUL -> dependentInputs < 2;
        case DIV -> !secondDependent;
        case MAXIMUM, MINIMUM, SQUARED_DIFFERENCE -> false;
      };
    }
    return op instanceof Op.Conv2D
        || op instanceof Op.DepthwiseConv2D
        || op instanceof Op.Conv2DTranspose
        || op instanceof Op.BiasAdd
        || op instanceof Op.BatchNorm
        || op instanceof Op.Resize
        || op instanceof Op.Concat
        || op instanceof Op.Pad
        || op instanceof Op.Reshape
        || op instanceof Op.SpatialMean
        || op instanceof Op.MatMul;
  }

  // a conv/BN/bias output consumed only by an activation: its activation is the block's output
  private static boolean feedsActivation(Graph graph, Node n) {
    boolean any = false;
    for (Node m : graph.nodes()) {
      if (m.inputs().contains(n.name())) {
        if (!(m.op() instanceof Op.Activation)) {
          return false;
        }
        any = true;
      }
    }
    return any;
  }

  /** The node and everything it depends on. */
  static Set<String> ancestors(Graph graph, String node) {
    Set<String> seen = new HashSet<>();
    ArrayDeque<String> todo = new ArrayDeque<>();
    todo.add(node);
    seen.add(node);
    while (!todo.isEmpty()) {
      for (String in : graph.node(todo.poll()).inputs()) {
        if (seen.add(in)) {
          todo.add(in);
        }
      }
    }
    return seen;
  }

  /**
   * The last feature layer before the classifier of {@code output}: walk back from the output
   * through the head — a final Softmax/Sigmoid, resizes, bias/BN, the classifier (the first
   * Conv/MatMul met) and the pooling or reshapes right before it — then take the last node, in
   * graph order, among that point and its ancestors that is a feature node ({@link #isFeature}).
   */
  static String lastFeature(Graph graph, String output) {
    String cur = output;
    boolean classifier = false;
    while (true) {
      Node n = graph.node(cur);
      Op op = n.op();
      if (n.inputs().size() != 1) {
        break;
      }
      boolean head;
      if (!classifier) {
        if (op instanceof Op.Conv2D
            || op instanceof Op.DepthwiseConv2D
            || op instanceof Op.Conv2DTranspose
            || op instanceof Op.MatMul) {
          classifier = true;
          head = true;
        } else {
          head =
              op instanceof Op.Softmax
                  || op instanceof Op.Activation
                  || op instanceof Op.Resize
                  || op instanceof Op.Reshape
                  || op instanceof Op.SpatialMean
                  || op instanceof Op.Pool
                  || op instanceof Op.BiasAdd
                  || op instanceof Op.BatchNorm;
        }
      } else {
        head =
            op instanceof Op.Reshape
                || op instanceof Op.SpatialMean
                || op instanceof Op.Pool
                || op instanceof Op.Resize;
      }
      if (!head) {
        break;
      }
      cur = n.inputs().get(0);
    }
    Set<String> anc = LayerChoice.ancestors(graph, cur);
    List<Node> nodes = graph.nodes();
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Node n = nodes.get(i);
      if (anc.contains(n.name()) && isFeature(n)) {
        return n.name();
      }
    }
    throw new CamException(
        "no default layer: no conv/activation output with spatial size > 1 feeds the output '"
            + output
            + "'; name a layer explicitly");
  }

  static boolean isFeature(Node n) {
    Op op = n.op();
    boolean kind =
        op instanceof Op.Conv2D
            || op instanceof Op.DepthwiseConv2D
            || op instanceof Op.Conv2DTranspose
            || op instanceof Op.Activation
            || op instanceof Op.BatchNorm
            || op instanceof Op.BiasAdd;
    Shape s = n.shape();
    if (!kind || s.rank() != 4) {
      return false;
    }
    return !(s.dim(1) == 1 && s.dim(2) == 1);
  }
}
