package dev.segcam.savedmodel;

import static dev.segcam.savedmodel.SignatureProtos.baseType;
import static dev.segcam.savedmodel.SignatureProtos.chooseSignature;
import static dev.segcam.savedmodel.SignatureProtos.declaredShape;
import static dev.segcam.savedmodel.SignatureProtos.fits;
import static dev.segcam.savedmodel.SignatureProtos.shapeOf;
import static dev.segcam.savedmodel.SignatureProtos.stripIndex;
import static dev.segcam.savedmodel.SignatureProtos.tensorName;
import static dev.segcam.savedmodel.SignatureProtos.userSignatures;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.segcam.SegcamException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Folding;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedConcreteFunction;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObject;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObjectGraph;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TrackableObjectGraphOuterClass.TrackableObjectGraph;

/**
 * Imports a TensorFlow SavedModel directory into the IR without the TensorFlow runtime: parses
 * {@code saved_model.pb}, inlines the function library, reads variables from the tensor bundle,
 * maps ops, folds biases and batch norms into convolutions, and names nodes after Keras layers.
 */
public final class SavedModelImporter {
  public static final String DEFAULT_SIGNATURE = "serving_default";
  private static final String OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";
  private static final String VARIABLE_VALUE = "VARIABLE_VALUE";

  /** saved_model.pb files of real models reach a few hundred MB with embedded constants. */
  private static final long MAX_PB_BYTES = 2L << 30;

  private static final Set<DataType> INPUT_TYPES =
      Set.of(
          DataType.DT_FLOAT,
          DataType.DT_HALF,
          DataType.DT_BFLOAT16,
          DataType.DT_DOUBLE,
          DataType.DT_UINT8,
          DataType.DT_INT8,
          DataType.DT_UINT16,
          DataType.DT_INT16,
          DataType.DT_INT32,
          DataType.DT_INT64);

  private SavedModelImporter() {}

  /** Imports the serving_default signature (or the only one there is). */
  public static ImportedModel load(Path dir) {
    return load(dir, null);
  }

  /** Imports the named signature; null picks serving_default, or the only signature. */
  public static ImportedModel load(Path dir, String signature) {
    return load(dir, signature, Map.of());
  }

  /**
   * As {@link #load(Path, String)}, with concrete shapes for some inputs (signature key -> shape).
   * Unknown dimensions then become known at import, which lets shape computations fold (e.g. an
   * UpSampling2D whose output size is read from its input at run time). Each given shape must fit
   * the declared one (same rank, equal where the declared one is known); a key that is not an input
   * is an error; the key "" stands for the only input.
   */
  public static ImportedModel load(Path dir, String signature, Map<String, Shape> inputShapes) {
    Session s = new Session(dir);
    try {
      return s.run(signature, inputShapes);
    } catch (ImportException e) {
      throw e.withFile(s.pbFile);
    } catch (SegcamException e) {
      // shape inference and the graph builder do not know the file; the user needs it
      throw new ImportException(e.getMessage(), s.pbFile, null, null, e);
    }
  }

  /**
   * Imports the signature (null: the default) specialised to images of {@code height x width}: the
   * only input's unknown height and width become these (a size the model fixes stays its own, the
   * batch stays free), so shape arithmetic on the input's size folds to constants and dynamic
   * crops, reshapes and resizes become static. Imports are cached per model and size ({@link
   * SizedImports}).
   */
  public static ImportedModel loadAtImageSize(Path dir, String signature, int height, int width) {
    return SizedImports.get(dir, signature, height, width);
  }

  /** {@link #loadAtImageSize} without the cache. */
  static ImportedModel importAtImageSize(Path dir, String signature, int height, int width) {
    Session s = new Session(dir);
    s.fillOnly = true;
    try {
      return s.run(signature, Map.of("", Shape.of(-1, height, width, -1)));
    } catch (ImportException e) {
      throw e.withFile(s.pbFile);
    } catch (SegcamException e) {
      throw new ImportException(e.getMessage(), s.pbFile, null, null, e);
    }
  }

  /** The names of the model's signatures (without internal ones such as init ops). */
  public static List<String> signatures(Path dir) {
    Session s = new Session(dir);
    return userSignatures(s.metaGraph());
  }

  /** One import: holds the parsed files. */
  private static final class Session {
    final Path dir;
    final String pbFile;
    MetaGraphDef mg;
    TensorBundle bundle;
    boolean bundleOpened;
    Map<String, String> boundKeys = new HashMap<>();
    Map<String, FloatTensor> cache = new HashMap<>();

    /** Given shapes only fill the declared shape's unknown dims (image sizes, not user shapes). */
    boolean fillOnly;

    Session(Path dir) {
      this.dir = dir;
      this.pbFile = dir.resolve("saved_model.pb").toString();
    }

    MetaGraphDef metaGraph() {
      if (mg != null) {
        return mg;
      }
      if (Files.exists(dir) && !Files.isDirectory(dir)) {
        throw ImportException.inFile(
            dir.toString(),
            "is a file, not a SavedModel directory (give the folder that holds saved_model.pb)");
      }
      if (!Files.isDirectory(dir)) {
        throw ImportException.inFile(dir.toString(), "SavedModel directory does not exist");
      }
      Path pb = dir.resolve("saved_model.pb");
      if (!Files.isRegularFile(pb)) {
        if (Files.isRegularFile(dir.resolve("saved_model.pbtxt"))) {
          throw ImportException.inFile(
              pbFile, "only binary saved_model.pb is supported (found saved_model.pbtxt)");
        }
        throw ImportException.inFile(pbFile, "saved_model.pb is missing");
      }
      SavedModel sm;
      try {
        if (Files.size(pb) > MAX_PB_BYTES) {
          throw ImportException.inFile(pbFile, "file is larger than 2 GB");
        }
        try (InputStream in = Files.newInputStream(pb)) {
          CodedInputStream cis = CodedInputStream.newInstance(in);
          cis.setSizeLimit(Integer.MAX_VALUE);
          sm = SavedModel.parseFrom(cis);
        }
      } catch (InvalidProtocolBufferException e) {
        throw ImportException.inFile(
            pbFile, "not a valid SavedModel protobuf (truncated or corrupt): " + e.getMessage(), e);
      } catch (ImportException e) {
        throw e;
      } catch (RuntimeException e) {
        // protobuf's stream decoder reports some corrupt lengths (near 2^31, with the size limit
        // raised for large models) as IllegalStateException instead of a parse error
        throw ImportException.inFile(
            pbFile, "not a valid SavedModel protobuf (corrupt length or field): " + e, e);
      } catch (IOException e) {
        throw ImportException.inFile(pbFile, "cannot read: " + e.getMessage(), e);
      }
      if (sm.getMetaGraphsCount() == 0) {
        throw ImportException.inFile(pbFile, "SavedModel has no meta graphs");
      }
      mg = sm.getMetaGraphs(0);
      for (MetaGraphDef m : sm.getMetaGraphsList()) {
        if (m.getMetaInfoDef().getTagsList().contains("serve")) {
          mg = m;
          break;
        }
      }
      return mg;
    }

    TensorBundle bundle() {
      if (!bundleOpened) {
        bundleOpened = true;
        Path vars = dir.resolve("variables");
        if (Files.isRegularFile(vars.resolve("variables.index"))) {
          bundle = TensorBundle.open(vars);
        }
      }
      return bundle;
    }

    TensorBundle requireBundle(String forKey) {
      TensorBundle b = bundle();
      if (b == null) {
        throw ImportException.inFile(
            dir.resolve("variables").resolve("variables.index").toString(),
            "variables index is missing, but the model reads variable '" + forKey + "'");
      }
      return b;
    }

    ImportedModel run(String requested, Map<String, Shape> given) {
      MetaGraphDef meta = metaGraph();
      List<String> names = userSignatures(meta);
      String sigName = chooseSignature(pbFile, names, requested);
      SignatureDef sig = meta.getSignatureDefOrThrow(sigName);
      if (given.containsKey("") && fillOnly && sig.getInputsCount() != 1) {
        given = Map.of(); // an image size is for one-input models; others import as declared
      }
      if (given.containsKey("")) {
        // "" names the only input (for command lines that give one shape without a key).
        if (sig.getInputsCount() != 1) {
          throw ImportException.inFile(
              pbFile,
              "signature '"
                  + sigName
                  + "' has inputs "
                  + sig.getInputsMap().keySet()
                  + "; name the input a shape is for");
        }
        Map<String, Shape> g2 = new HashMap<>(given);
        g2.put(sig.getInputsMap().keySet().iterator().next(), g2.remove(""));
        given = g2;
      }
      for (String k : given.keySet()) {
        if (!sig.getInputsMap().containsKey(k)) {
          throw ImportException.inFile(
              pbFile,
              "a shape is given for '"
                  + k
                  + "', which is not an input of signature '"
                  + sigName
                  + "' (inputs: "
                  + sig.getInputsMap().keySet()
                  + ")");
        }
      }
      GraphDef graph = meta.getGraphDef();
      Map<String, NodeDef> top = new HashMap<>();
      for (NodeDef n : graph.getNodeList()) {
        top.put(n.getName(), n);
      }
      collectBoundInputs(meta, graph);

      List<String> outTensors = new ArrayList<>();
      List<String> outKeys = new ArrayList<>();
      for (Map.Entry<String, TensorInfo> e : sig.getOutputsMap().entrySet()) {
        outKeys.add(e.getKey());
        outTensors.add(tensorName(pbFile, sigName, e.getKey(), e.getValue(), top));
      }
      Set<String> feeds = new HashSet<>();
      for (Map.Entry<String, TensorInfo> e : sig.getInputsMap().entrySet()) {
        feeds.add(stripIndex(tensorName(pbFile, sigName, e.getKey(), e.getValue(), top)));
      }
      Flattener fl = new Flattener(graph, pbFile);
      List<TfRef> served = fl.flattenGraph(graph, outTensors, feeds);
      ScoreNodes.Choice scored = ScoreNodes.differentiable(outKeys, served);
      List<TfRef> outRefs = scored.refs();

      // Inputs: placeholders named by the signature become IR inputs named by their keys.
      Map<String, String> placeholderToKey = new HashMap<>();
      List<TensorSpec> inSpecs = new ArrayList<>();
      Set<String> inputKeys = new HashSet<>();
      for (Map.Entry<String, TensorInfo> e : sig.getInputsMap().entrySet()) {
        TensorInfo ti = e.getValue();
        String t = tensorName(pbFile, sigName, e.getKey(), ti, top);
        if (!INPUT_TYPES.contains(baseType(ti.getDtype()))) {
          throw new ImportException(
              "signature '"
                  + sigName
                  + "' input '"
                  + e.getKey()
                  + "' has dtype "
                  + ti.getDtype()
                  + "; only numeric tensor inputs are supported",
              pbFile,
              stripIndex(t),
              null);
        }
        placeholderToKey.put(stripIndex(t), e.getKey());
        inputKeys.add(e.getKey());
      }
      Map<TfNode, String> inputNodes = new HashMap<>();
      for (TfNode n : fl.nodes()) {
        if (n.function == null && placeholderToKey.containsKey(n.path)) {
          inputNodes.put(n, placeholderToKey.get(n.path));
        }
      }
      Map<String, String> unusable = new HashMap<>();
      Map<String, Shape> shapes = new LinkedHashMap<>();
      for (Map.Entry<String, TensorInfo> e : sig.getInputsMap().entrySet()) {
        String t = tensorName(pbFile, sigName, e.getKey(), e.getValue(), top);
        Shape shape = declaredShape(e.getValue(), top.get(stripIndex(t)));
        Shape wanted = given.get(e.getKey());
        if (wanted != null && shape != null && shape.rank() == wanted.rank()) {
          // -1 keeps the declared dim; an image size fills only the dims the model leaves open
          for (int d = 0; d < shape.rank(); d++) {
            if (shape.dim(d) != Shape.UNKNOWN && (fillOnly || wanted.dim(d) == Shape.UNKNOWN)) {
              wanted = wanted.withDim(d, shape.dim(d));
            }
          }
        }
        if (wanted != null) {
          if (shape != null && !fits(shape, wanted)) {
            throw new ImportException(
                "input '"
                    + e.getKey()
                    + "' is declared "
                    + shape
                    + ", cannot import it as "
                    + wanted,
                pbFile,
                stripIndex(t),
                null);
          }
          shape = wanted;
        }
        if (shape == null) {
          // Only an error if the outputs actually read this input.
          unusable.put(stripIndex(t), "signature input '" + e.getKey() + "' has unknown rank");
        } else {
          shapes.put(e.getKey(), shape);
        }
        inSpecs.add(
            new TensorSpec(
                e.getKey(),
                t,
                e.getValue().getDtype().name(),
                shape,
                shape == null ? null : e.getKey()));
      }
      inputNodes.entrySet().removeIf(en -> !shapes.containsKey(en.getValue()));
      Converter conv = new Converter(inputNodes, unusable, this::variableKey, this::readVariable);
      for (Map.Entry<String, Shape> e : shapes.entrySet()) {
        conv.addInput(e.getKey(), e.getValue());
      }
      List<String> outNodes = conv.convert(outRefs);
      Graph.Builder b = conv.builder();
      for (int i = 0; i < outKeys.size(); i++) {
        b.output(outKeys.get(i), outNodes.get(i));
      }
      Graph raw = b.build();
      Graph folded = Folding.fold(raw);
      Map<String, String> names2 = ReadableNames.of(folded, inputKeys);
      Graph g = ReadableNames.rename(folded, names2);

      // TensorFlow names -> IR nodes, for values that still exist after folding (a convolution
      // whose bias or batch norm was folded in no longer has its own output).
      Map<String, String> tensorNodes = new java.util.TreeMap<>();
      Map<TfNode, String> acts = conv.activations();
      for (Map.Entry<TfNode, String> e : acts.entrySet()) {
        if (names2.containsKey(e.getValue()) && folded.contains(e.getValue())) {
          tensorNodes.put(e.getKey().path, names2.get(e.getValue()));
        }
      }
      for (Map.Entry<String, TfRef> e : fl.topLevelTensors().entrySet()) {
        TfRef r = e.getValue();
        String rawNode = r.output() == 0 ? acts.get(r.node()) : null;
        if (rawNode != null && names2.containsKey(rawNode) && folded.contains(rawNode)) {
          tensorNodes.put(e.getKey(), names2.get(rawNode));
        }
      }

      List<TensorSpec> outSpecs = new ArrayList<>();
      int i = 0;
      for (Map.Entry<String, TensorInfo> e : sig.getOutputsMap().entrySet()) {
        TensorInfo ti = e.getValue();
        String node = g.outputs().get(e.getKey());
        boolean moved = outRefs.get(i) != served.get(i);
        Shape declared =
            !moved && ti.hasTensorShape() && !ti.getTensorShape().getUnknownRank()
                ? shapeOf(ti.getTensorShape())
                : g.node(node).shape();
        String dtype = moved ? DataType.DT_FLOAT.name() : ti.getDtype().name();
        outSpecs.add(new TensorSpec(e.getKey(), outTensors.get(i++), dtype, declared, node));
      }
      return new ImportedModel(
          dir, sigName, names, inSpecs, outSpecs, g, tensorNodes, scored.notes());
    }

    /**
     * A concrete function called from the top-level graph receives its captured variables as its
     * last inputs; SavedObjectGraph lists their object ids in bound_inputs, and the checkpoint's
     * object graph (same ids) gives each variable's checkpoint key.
     */
    void collectBoundInputs(MetaGraphDef meta, GraphDef graph) {
      if (!meta.hasObjectGraphDef()) {
        return;
      }
      SavedObjectGraph og = meta.getObjectGraphDef();
      Map<String, SavedConcreteFunction> fns = og.getConcreteFunctionsMap();
      if (fns.isEmpty()) {
        return;
      }
      TrackableObjectGraph ckpt = null;
      for (NodeDef n : graph.getNodeList()) {
        if (!n.getOp().endsWith("PartitionedCall") || !n.containsAttr("f")) {
          continue;
        }
        SavedConcreteFunction cf = fns.get(n.getAttrOrThrow("f").getFunc().getName());
        if (cf == null || cf.getBoundInputsCount() == 0) {
          continue;
        }
        List<String> ins = new ArrayList<>();
        for (String in : n.getInputList()) {
          if (!in.startsWith("^")) {
            ins.add(stripIndex(in));
          }
        }
        int first = ins.size() - cf.getBoundInputsCount();
        if (first < 0) {
          continue;
        }
        if (ckpt == null) {
          ckpt = checkpointGraph();
          if (ckpt == null) {
            return;
          }
        }
        for (int k = 0; k < cf.getBoundInputsCount(); k++) {
          int id = cf.getBoundInputs(k);
          String key = keyOfObject(ckpt, og, id);
          if (key != null) {
            boundKeys.putIfAbsent(ins.get(first + k), key);
          }
        }
      }
    }

    TrackableObjectGraph checkpointGraph() {
      TensorBundle b = bundle();
      if (b == null || !b.contains(OBJECT_GRAPH_KEY)) {
        return null;
      }
      try {
        return TrackableObjectGraph.parseFrom(b.readScalarString(OBJECT_GRAPH_KEY));
      } catch (InvalidProtocolBufferException e) {
        throw ImportException.inFile(
            dir.resolve("variables").toString(),
            "checkpoint object graph (" + OBJECT_GRAPH_KEY + ") is corrupt",
            e);
      }
    }

    static String keyOfObject(TrackableObjectGraph ckpt, SavedObjectGraph og, int id) {
      if (id < 0 || id >= ckpt.getNodesCount()) {
        return null;
      }
      if (id < og.getNodesCount()
          && og.getNodes(id).getKindCase() != SavedObject.KindCase.VARIABLE) {
        return null;
      }
      for (var attr : ckpt.getNodes(id).getAttributesList()) {
        if (attr.getName().equals(VARIABLE_VALUE)) {
          return attr.getCheckpointKey();
        }
      }
      return null;
    }

    /** Checkpoint key of a variable node (VarHandleOp, VariableV2). */
    String variableKey(TfNode n) {
      if (n.function == null) {
        String k = boundKeys.get(n.path);
        if (k != null) {
          return k;
        }
      }
      String shared =
          n.def.containsAttr("shared_name")
              ? n.def.getAttrOrThrow("shared_name").getS().toStringUtf8()
              : "";
      TensorBundle b = requireBundle(n.path);
      if (!shared.isEmpty() && b.contains(shared)) {
        return shared;
      }
      if (b.contains(n.localName)) {
        return n.localName;
      }
      // TF2 object-graph variables carry their creation name; match it when nothing else does.
      MetaGraphDef meta = metaGraph();
      if (meta.hasObjectGraphDef() && !shared.isEmpty()) {
        SavedObjectGraph og = meta.getObjectGraphDef();
        TrackableObjectGraph ckpt = checkpointGraph();
        for (int id = 0; ckpt != null && id < og.getNodesCount(); id++) {
          SavedObject o = og.getNodes(id);
          if (o.getKindCase() == SavedObject.KindCase.VARIABLE
              && o.getVariable().getName().equals(shared)) {
            String key = keyOfObject(ckpt, og, id);
            if (key != null) {
              return key;
            }
          }
        }
      }
      throw new ImportException(
          "variable '"
              + (shared.isEmpty() ? n.localName : shared)
              + "' has no value in the checkpoint",
          dir.resolve("variables").toString(),
          n.path,
          n.function);
    }

    FloatTensor readVariable(String key) {
      FloatTensor t = cache.get(key);
      if (t == null) {
        t = requireBundle(key).readFloat(key);
        cache.put(key, t);
      }
      return t;
    }
  }
}
