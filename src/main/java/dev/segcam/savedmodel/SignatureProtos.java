package dev.segcam.savedmodel;

import dev.segcam.ir.Shape;
import org.tensorflow.proto.DataType;

/** Small readings of signature protos: dtypes, tensor names, shapes. */
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
}
