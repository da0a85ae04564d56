package dev.segcam.testing;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TString;

/**
 * TensorFlow's own answers for a SavedModel, computed by the TF Java native session: the output,
 * the values of named tensors, and the data gradients dS/dA of those tensors for a score
 *
 * <pre>S = sum over all elements of seed * y</pre>
 *
 * where seed has y's shape. A Seg-Grad-CAM target (class c, pixel mask M) is the seed that is 1 at
 * (n, i, j, c) for (i, j) in M and 0 elsewhere ({@link #classSeed}); a batch of seeds gives one
 * score per batch element. The gradient graph is built once (Graph.addGradients with the seed as
 * dy), so one oracle answers many inputs and targets.
 *
 * <p>TensorFlow's C++ gradient of Conv2D (what addGradients runs, TF 2.18) drops the {@code
 * dilations} attribute: the Conv2DBackpropInput it emits for a dilated conv is undilated, so its
 * gradients are wrong (found by {@code ModelZooTest}'s finite-difference check); and TF's CPU
 * kernel refuses a dilated Conv2DBackpropInput anyway. A conv with kernel K and dilation d is the
 * undilated conv with the (K-1)d+1 kernel that holds K's taps d apart and zeros between, under the
 * same SAME/VALID padding. So the oracle feeds those gradient nodes that spread-out kernel (a Const
 * computed from the restored weights) and runs the patched graph in a fresh session, restoring the
 * variables with the SavedModel's own saver.
 *
 * <p>Tensor names are TF op names (output 0) or {@code op:index}.
 */
public final class TfOracle implements AutoCloseable {

  /**
   * What one run returns: output y, values A and gradients dS/dA by the names asked for, and the
   * scored tensor f(y) (y itself for {@link Score#LINEAR}).
   */
  public record Run(
      FloatTensor output,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> grads,
      FloatTensor scored) {}

  /**
   * What the seed weighs: S = sum(seed * f(y)) with f the identity (logits, or probabilities of a
   * model ending in Softmax), softmax over the last axis, or the element-wise sigmoid.
   */
  public enum Score {
    LINEAR,
    SOFTMAX,
    SIGMOID
  }

  private static final String GRAD_PREFIX = "oracle_gradients";

  private final SavedModelBundle bundle;
  private final Graph graph;
  private final Session session;
  private final int patchedConvs;
  private final String inputName;
  private final Output<?> output;
  private final Output<?> scored;
  private final List<String> names;
  private final List<Output<?>> tensors = new ArrayList<>();
  private final List<Output<?>> grads = new ArrayList<>();
  private final Output<?> seed;

  private TfOracle(Path dir, String outputKey, List<String> names, Score score) {
    this.bundle = SavedModelBundle.load(dir.toString(), SavedModelBundle.DEFAULT_TAG);
    Graph g = bundle.graph();
    Signature sig =
        bundle.signatures().stream()
            .filter(s -> s.key().equals(Signature.DEFAULT_KEY))
            .findFirst()
            .orElse(bundle.signatures().get(0));
    if (sig.getInputs().size() != 1) {
      throw new IllegalArgumentException(
          dir + ": the oracle handles one-input signatures, got " + sig.getInputs().keySet());
    }
    this.inputName = sig.getInputs().values().iterator().next().name;
    // outputKey: a signature output key, or else a tensor of the graph (a score node chosen
    // explicitly, such as the logits before an ArgMax serving output)
    if (outputKey != null
        && !sig.getOutputs().containsKey(outputKey)
        && g.output(outputKey) == null) {
      throw new IllegalArgumentException(
          dir + ": no output '" + outputKey + "'; outputs " + sig.getOutputs().keySet());
    }
    String outputName =
        outputKey == null
            ? sig.getOutputs().values().iterator().next().name
            : sig.getOutputs().containsKey(outputKey)
                ? sig.getOutputs().get(outputKey).name
                : outputKey;
    Output<?> y = g.outputOrThrow(outputName);
    this.names = List.copyOf(names);
    List<Output<?>> xs = new ArrayList<>();
    for (String n : names) {
      xs.add(g.outputOrThrow(n));
    }
    Ops tf = Ops.create(g).withSubScope("oracle");
    Operand<TFloat32> yf = y.expect(TFloat32.class);
    Output<?> scored =
        switch (score) {
          case LINEAR -> y;
          case SOFTMAX -> tf.withName("softmax").nn.softmax(yf).asOutput();
          case SIGMOID -> tf.withName("sigmoid").math.sigmoid(yf).asOutput();
        };
    Output<?> seedOp =
        tf.withName("seed").placeholder(TFloat32.class, Placeholder.shape(y.shape())).output();
    List<String> gradNames = new ArrayList<>();
    if (!xs.isEmpty()) {
      for (Output<?> d :
          g.addGradients(
              GRAD_PREFIX,
              new Output<?>[] {scored},
              xs.toArray(new Output<?>[0]),
              new Output<?>[] {seedOp})) {
        gradNames.add(d.op().name() + ":" + d.index());
      }
    }

    GraphDef gd = g.toGraphDef();
    Map<String, NodeDef> fix = dilatedConvGradients(gd);
    this.patchedConvs = fix.size();
    if (fix.isEmpty()) {
      this.graph = g;
      this.session = bundle.session();
    } else {
      GraphDef.Builder b = gd.toBuilder();
      Map<String, String> spread = new HashMap<>();
      for (NodeDef conv : fix.values()) {
        if (!spread.containsKey(conv.getName())) {
          String constName = "oracle_dilated_filters/" + conv.getName();
          b.addNode(spreadFilterConst(constName, conv));
          spread.put(conv.getName(), constName);
        }
      }
      for (int i = 0; i < b.getNodeCount(); i++) {
        NodeDef conv = fix.get(b.getNode(i).getName());
        if (conv != null) {
          b.setNode(i, b.getNode(i).toBuilder().setInput(1, spread.get(conv.getName())));
        }
      }
      this.graph = new Graph();
      graph.importGraphDef(b.build());
      this.session = new Session(graph);
      SaverDef saver = bundle.metaGraphDef().getSaverDef();
      try (TString prefix =
          TString.scalarOf(dir.resolve("variables").resolve("variables").toString())) {
        session
            .runner()
            .feed(saver.getFilenameTensorName(), prefix)
            .addTarget(saver.getRestoreOpName())
            .run()
            .close();
      }
    }
    this.output = graph.outputOrThrow(outputName);
    this.scored = graph.outputOrThrow(scored.op().name() + ":" + scored.index());
    this.seed = graph.outputOrThrow(seedOp.op().name());
    for (String n : names) {
      tensors.add(graph.outputOrThrow(n));
    }
    for (String n : gradNames) {
      grads.add(graph.outputOrThrow(n));
    }
  }

  /**
   * Loads the SavedModel (tag "serve", default signature) and builds dS/dA for the named tensors.
   */
  public static TfOracle load(Path dir, List<String> tensorNames) {
    return new TfOracle(dir, null, tensorNames, Score.LINEAR);
  }

  /** As {@link #load(Path, String, List)}, with S weighing f(y) for the given score. */
  public static TfOracle load(Path dir, String outputKey, List<String> tensorNames, Score score) {
    return new TfOracle(dir, outputKey, tensorNames, score);
  }

  /** As {@link #load(Path, List)}, with y the signature's output of that key. */
  public static TfOracle load(Path dir, String outputKey, List<String> tensorNames) {
    return new TfOracle(dir, outputKey, tensorNames, Score.LINEAR);
  }

  /** The graph the oracle runs (the model plus its gradient ops). */
  public Graph graph() {
    return graph;
  }

  /** How many gradient convs had their dilations restored (0 when no conv is dilated). */
  public int patchedConvs() {
    return patchedConvs;
  }

  /**
   * Runs any SavedModel (tag "serve") once: feeds float tensors by TF tensor name ("op:k"), fetches
   * the named tensors. For models with several inputs or outputs, or outside the zoo.
   */
  public static List<FloatTensor> runOnce(
      Path dir, Map<String, FloatTensor> feeds, List<String> fetches) {
    try (SavedModelBundle b = SavedModelBundle.load(dir.toString(), SavedModelBundle.DEFAULT_TAG)) {
      List<TFloat32> ins = new ArrayList<>();
      try {
        Session.Runner r = b.session().runner();
        for (Map.Entry<String, FloatTensor> e : feeds.entrySet()) {
          TFloat32 t = toTf(e.getValue());
          ins.add(t);
          r.feed(e.getKey(), t);
        }
        for (String f : fetches) {
          r.fetch(f);
        }
        try (Result res = r.run()) {
          List<FloatTensor> out = new ArrayList<>();
          for (int i = 0; i < fetches.size(); i++) {
            out.add(fromTf(res.get(i)));
          }
          return out;
        }
      } finally {
        ins.forEach(TFloat32::close);
      }
    }
  }

  /** Output only. */
  public FloatTensor forward(FloatTensor input) {
    try (TFloat32 in = toTf(input);
        Result r = session.runner().feed(inputName, in).fetch(output).run()) {
      return fromTf(r.get(0));
    }
  }

  /**
   * Output with one tensor replaced by a given value (TF feeds any tensor): what the layers above
   * it compute from that value. For finite-difference checks of dS/dA.
   */
  public FloatTensor forwardWith(FloatTensor input, String tensor, FloatTensor value) {
    Output<?> t = graph.outputOrThrow(tensor);
    try (TFloat32 in = toTf(input);
        TFloat32 v = toTf(value)) {
      Session.Runner runner =
          isInput(t)
              ? session.runner().feed(inputName, v)
              : session.runner().feed(inputName, in).feed(t, v);
      try (Result r = runner.fetch(output).run()) {
        return fromTf(r.get(0));
      }
    }
  }

  /**
   * Output, the values of the named tensors, and their gradients dS/dA for S = sum(seed * f(y)).
   */
  public Run run(FloatTensor input, FloatTensor seedValue) {
    try (TFloat32 in = toTf(input);
        TFloat32 sd = toTf(seedValue)) {
      // a Result holds each tensor name once: a LINEAR score is the output itself
      boolean linear = scored.equals(output);
      Session.Runner runner = session.runner().feed(inputName, in).feed(seed, sd).fetch(output);
      if (!linear) {
        runner.fetch(scored);
      }
      // TF refuses to fetch a fed tensor: the input's value is the input itself
      int fetched = linear ? 1 : 2;
      int[] at = new int[tensors.size()];
      for (int i = 0; i < tensors.size(); i++) {
        if (isInput(tensors.get(i))) {
          at[i] = -1;
        } else {
          runner.fetch(tensors.get(i));
          at[i] = fetched++;
        }
      }
      for (Output<?> gr : grads) {
        runner.fetch(gr);
      }
      try (Result r = runner.run()) {
        FloatTensor y = fromTf(r.get(0));
        if (!y.shape().equals(seedValue.shape())) {
          throw new IllegalArgumentException(
              "seed shape " + seedValue.shape() + " != output shape " + y.shape());
        }
        Map<String, FloatTensor> values = new LinkedHashMap<>();
        Map<String, FloatTensor> gradients = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
          values.put(names.get(i), at[i] < 0 ? input : fromTf(r.get(at[i])));
          gradients.put(names.get(i), fromTf(r.get(fetched + i)));
        }
        return new Run(y, values, gradients, linear ? y : fromTf(r.get(1)));
      }
    }
  }

  private boolean isInput(Output<?> t) {
    return (t.op().name() + ":" + t.index()).equals(inputName)
        || (t.index() == 0 && t.op().name().equals(inputName));
  }

  /** A Const node holding the dilated conv's kernel spread out to its dilated extent. */
  // filter (KH,KW,C,F), dilations (dh,dw) -> ((KH-1)dh+1, (KW-1)dw+1, C, F)
  private NodeDef spreadFilterConst(String name, NodeDef conv) {
    FloatTensor w;
    try (Result r = bundle.session().runner().fetch(conv.getInput(1)).run()) {
      w = fromTf(r.get(0));
    }
    List<Long> dil = conv.getAttrOrThrow("dilations").getList().getIList();
    int dh = (int) (long) dil.get(1);
    int dw = (int) (long) dil.get(2);
    int kh = w.shape().dim(0);
    int kw = w.shape().dim(1);
    int cf = w.shape().dim(2) * w.shape().dim(3);
    int sh = (kh - 1) * dh + 1;
    int sw = (kw - 1) * dw + 1;
    float[] out = new float[sh * sw * cf];
    for (int i = 0; i < kh; i++) {
      for (int j = 0; j < kw; j++) {
        System.arraycopy(w.data(), (i * kw + j) * cf, out, ((i * dh) * sw + j * dw) * cf, cf);
      }
    }
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (int d : new int[] {sh, sw, w.shape().dim(2), w.shape().dim(3)}) {
      shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    TensorProto.Builder value =
        TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(shape);
    for (float f : out) {
      value.addFloatVal(f);
    }
    return NodeDef.newBuilder()
        .setName(name)
        .setOp("Const")
        .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_FLOAT).build())
        .putAttr("value", AttrValue.newBuilder().setTensor(value).build())
        .build();
  }

  /**
   * Gradient Conv2DBackpropInput node name -> the dilated forward Conv2D it differentiates. The
   * gradient node reads (Shape(x), filter, dy); the forward conv is the Conv2D reading (x, filter).
   */
  static Map<String, NodeDef> dilatedConvGradients(GraphDef gd) {
    Map<String, NodeDef> byName = new HashMap<>();
    Map<String, List<NodeDef>> convsByInputs = new HashMap<>();
    for (NodeDef n : gd.getNodeList()) {
      byName.put(n.getName(), n);
      if (n.getOp().equals("Conv2D") && !n.getName().startsWith(GRAD_PREFIX + "/")) {
        String key = tensor(n.getInput(0)) + "|" + tensor(n.getInput(1));
        convsByInputs.computeIfAbsent(key, k -> new ArrayList<>()).add(n);
      }
    }
    Map<String, NodeDef> fixes = new HashMap<>();
    for (NodeDef n : gd.getNodeList()) {
      if (!n.getOp().equals("Conv2DBackpropInput") || !n.getName().startsWith(GRAD_PREFIX + "/")) {
        continue;
      }
      NodeDef shape = byName.get(tensor(n.getInput(0)).replaceFirst(":0$", ""));
      if (shape == null || !shape.getOp().equals("Shape")) {
        continue; // a constant size: not from a Conv2D gradient we need to fix
      }
      List<NodeDef> fwd =
          convsByInputs.get(tensor(shape.getInput(0)) + "|" + tensor(n.getInput(1)));
      if (fwd == null) {
        continue;
      }
      AttrValue dil = fwd.get(0).getAttrOrDefault("dilations", null);
      if (dil == null || dil.getList().getIList().stream().allMatch(v -> v == 1)) {
        continue;
      }
      for (NodeDef f : fwd) {
        if (!f.getAttrOrDefault("dilations", dil).equals(dil)) {
          throw new IllegalStateException(
              "gradient " + n.getName() + " matches convs with different dilations: " + fwd);
        }
      }
      fixes.put(n.getName(), fwd.get(0));
    }
    return fixes;
  }

  /** An input reference as "op:index" (control inputs never reach here). */
  private static String tensor(String input) {
    return input.contains(":") ? input : input + ":0";
  }

  /**
   * The seed of a Seg-Grad-CAM target: 1 at channel c of every position p (flat index over all axes
   * but the last, e.g. (n*H + i)*W + j for NHWC, or n for (N, C)) where mask.test(p), else 0.
   */
  // y (..., C) -> seed (..., C)
  public static FloatTensor classSeed(Shape yShape, int c, IntPredicate mask) {
    int channels = yShape.dim(yShape.rank() - 1);
    if (c < 0 || c >= channels) {
      throw new IllegalArgumentException("class " + c + " outside [0, " + channels + ")");
    }
    float[] s = new float[yShape.size()];
    int positions = s.length / channels;
    for (int p = 0; p < positions; p++) {
      if (mask.test(p)) {
        s[p * channels + c] = 1f;
      }
    }
    return new FloatTensor(yShape, s);
  }

  /** S = sum(seed * y), in double. */
  public static double score(FloatTensor y, FloatTensor seed) {
    double s = 0;
    for (int i = 0; i < y.size(); i++) {
      s += (double) y.data()[i] * seed.data()[i];
    }
    return s;
  }

  @Override
  public void close() {
    if (graph != bundle.graph()) {
      session.close();
      graph.close();
    }
    bundle.close();
  }

  public static TFloat32 toTf(FloatTensor t) {
    int[] d = t.shape().dims();
    long[] dims = new long[d.length];
    for (int i = 0; i < d.length; i++) {
      dims[i] = d[i];
    }
    return TFloat32.tensorOf(
        org.tensorflow.ndarray.Shape.of(dims), DataBuffers.of(t.data(), true, false));
  }

  public static FloatTensor fromTf(Tensor t) {
    if (!(t instanceof TFloat32 f)) {
      throw new IllegalArgumentException("expected a float32 tensor, got " + t.dataType());
    }
    long[] dims = f.shape().asArray();
    int[] d = new int[dims.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = (int) dims[i];
    }
    float[] a = new float[(int) f.size()];
    f.copyTo(DataBuffers.of(a, false, false));
    return new FloatTensor(Shape.of(d), a);
  }
}
