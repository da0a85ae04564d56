package dev.segcam.savedmodel;

import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/** Readings of signature protos: which signature, dtypes, tensor names, shapes. */
final class SignatureProtos {
  private SignatureProtos() {}

  /** A fed reference (a TF1 variable named as a signature input) holds its base type. */
  static DataType baseType(DataType t) {
    if (t.getNumber() > 100) {
      DataType base = DataType.forNumber(t.getNumber() - 100);
      if (base != null) {
        return base;
      }
    }
    return t;
  }

  static String stripIndex(String tensor) {
    String s = tensor.startsWith("^") ? tensor.substring(1) : tensor;
    int c = s.lastIndexOf(':');
    if (c > 0 && s.substring(c + 1).chars().allMatch(Character::isDigit) && c < s.length() - 1) {
      return s.substring(0, c);
    }
    return s;
  }

  static Shape shapeOf(org.tensorflow.proto.TensorShapeProto s) {
    int[] d = new int[s.getDimCount()];
    for (int i = 0; i < d.length; i++) {
      long v = s.getDim(i).getSize();
      d[i] = v < 0 || v > Integer.MAX_VALUE ? Shape.UNKNOWN : (int) v;
    }
    return Shape.of(d);
  }

  /** The signature names a user can pick (not internal ones, not ones without outputs). */
  static List<String> userSignatures(MetaGraphDef mg) {
    List<String> names = new ArrayList<>();
    for (Map.Entry<String, SignatureDef> e : mg.getSignatureDefMap().entrySet()) {
      // "__saved_model_init_op" and friends are internal; a signature without outputs is useless.
      if (!e.getKey().startsWith("__") && e.getValue().getOutputsCount() > 0) {
        names.add(e.getKey());
      }
    }
    names.sort(null);
    return names;
  }

  /** The requested signature, else serving_default, else the only one. */
  static String chooseSignature(String pbFile, List<String> names, String requested) {
    if (requested != null) {
      if (!names.contains(requested)) {
        throw ImportException.inFile(
            pbFile, "no signature '" + requested + "'; the model has " + names);
      }
      return requested;
    }
    if (names.contains(SavedModelImporter.DEFAULT_SIGNATURE)) {
      return SavedModelImporter.DEFAULT_SIGNATURE;
    }
    if (names.size() == 1) {
      return names.get(0);
    }
    if (names.isEmpty()) {
      throw ImportException.inFile(pbFile, "the model has no signatures");
    }
    throw ImportException.inFile(
        pbFile,
        "no '" + SavedModelImporter.DEFAULT_SIGNATURE + "' signature; choose one of " + names);
  }

  /** The dense tensor a signature entry names, checked to be in the graph. */
  static String tensorName(
      String pbFile, String sig, String key, TensorInfo ti, Map<String, NodeDef> top) {
    if (!ti.hasName()) {
      throw ImportException.inFile(
          pbFile,
          "signature '"
              + sig
              + "' tensor '"
              + key
              + "' is "
              + ti.getEncodingCase()
              + ", only dense tensors are supported");
    }
    String name = ti.getName();
    if (!top.containsKey(stripIndex(name))) {
      throw new ImportException(
          "signature '" + sig + "' names tensor '" + name + "', which is not in the graph",
          pbFile,
          stripIndex(name),
          null);
    }
    return name;
  }

  /** The declared shape, or null when even the rank is unknown. */
  static Shape declaredShape(TensorInfo ti, NodeDef placeholder) {
    if (ti.hasTensorShape() && !ti.getTensorShape().getUnknownRank()) {
      return shapeOf(ti.getTensorShape());
    }
    if (placeholder != null && placeholder.containsAttr("shape")) {
      var s = placeholder.getAttrOrThrow("shape").getShape();
      if (!s.getUnknownRank()) {
        return shapeOf(s);
      }
    }
    return null;
  }

  /** Whether a shape matches a declared one (unknown declared dims match any size). */
  static boolean fits(Shape declared, Shape actual) {
    if (declared.rank() != actual.rank()) {
      return false;
    }
    for (int i = 0; i < declared.rank(); i++) {
      if (declared.dim(i) != Shape.UNKNOWN && declared.dim(i) != actual.dim(i)) {
        return false;
      }
    }
    return true;
  }
}
