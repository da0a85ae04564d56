package dev.segcam.savedmodel;

import dev.segcam.ir.Graph;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The result of importing a SavedModel: the IR graph and the chosen signature. Graph inputs are
 * named after the signature's input keys; graph outputs are keyed by its output keys. tensorNodes
 * maps TensorFlow node names (flattened call paths inside functions) to the IR nodes that compute
 * their values. notes says, one line each, where the import scores something other than what the
 * signature serves (an output without gradient replaced by its nearest differentiable ancestor).
 */
public record ImportedModel(
    Path dir,
    String signature,
    List<String> availableSignatures,
    List<TensorSpec> inputs,
    List<TensorSpec> outputs,
    Graph graph,
    Map<String, String> tensorNodes,
    List<String> notes) {
  public ImportedModel {
    notes = List.copyOf(notes);
    availableSignatures = List.copyOf(availableSignatures);
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    tensorNodes = Collections.unmodifiableMap(new TreeMap<>(tensorNodes));
  }

  /**
   * The IR node computing a TensorFlow tensor, by its name in the SavedModel: a top-level node or
   * tensor ("enc1/relu", "StatefulPartitionedCall:1") or a node inside an inlined function by its
   * call path ("StatefulPartitionedCall/model/conv2d/Relu"). Values folded away (a convolution
   * before its folded bias or batch norm) and nodes the outputs do not need have none.
   */
  public String nodeForTensor(String tfName) {
    String n = tfName.endsWith(":0") ? tfName.substring(0, tfName.length() - 2) : tfName;
    String node = tensorNodes.get(n);
    if (node == null) {
      throw new ImportException(
          "no IR node computes TensorFlow tensor '"
              + tfName
              + "' (folded into a following op, or not needed by the signature's outputs)",
          null,
          tfName,
          null);
    }
    return node;
  }

  /**
   * The IR node a user means by {@code name}: a signature output key, an IR node name (as {@code
   * segcam layers} prints it) or a TensorFlow node/tensor name (see {@link #nodeForTensor}).
   */
  public String node(String name) {
    if (graph.outputs().containsKey(name)) {
      return graph.outputs().get(name);
    }
    if (graph.contains(name)) {
      return name;
    }
    String n = name.endsWith(":0") ? name.substring(0, name.length() - 2) : name;
    if (tensorNodes.containsKey(n)) {
      return tensorNodes.get(n);
    }
    throw new ImportException(
        "no output key, layer or TensorFlow node '"
            + name
            + "' (outputs: "
            + graph.outputs().keySet()
            + "; `segcam layers` lists the layers)",
        null,
        name,
        null);
  }

  /**
   * The IR node a user means by a layer name: an IR node name (as {@code segcam layers} prints it)
   * first, else what {@link #node} resolves (a TensorFlow node or tensor name such as {@code
   * crop_skip/slice} or {@code model/dense/BiasAdd:0}, or an output key). A name neither resolves
   * is returned as it is, so that the graph's unknown-node error (with the closest names) reports
   * it where the layer is used.
   */
  public String layer(String name) {
    if (graph.contains(name)) {
      return name;
    }
    try {
      return node(name);
    } catch (ImportException unresolved) {
      return name;
    }
  }
}
