package dev.segcam.savedmodel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** Decodes Const tensors (TensorProto) into {@link Cst}. */
final class TensorProtos {
  private TensorProtos() {}

  static final int MAX_ELEMENTS = Integer.MAX_VALUE - 16;

  /** Largest constant materialised from fewer stored values (64 Mi elements). */
  static final int MAX_EXPANDED = 1 << 26;

  static int[] dims(TensorShapeProto s, String what) {
    if (s.getUnknownRank()) {
      throw new IllegalArgumentException(what + " has unknown rank");
    }
    int[] d = new int[s.getDimCount()];
    long n = 1;
    for (int i = 0; i < d.length; i++) {
      long v = s.getDim(i).getSize();
      if (v < 0 || v > MAX_ELEMENTS) {
        throw new IllegalArgumentException(what + " has dimension " + v);
      }
      d[i] = (int) v;
      n *= v;
      if (n > MAX_ELEMENTS) {
        throw new IllegalArgumentException(what + " is too large");
      }
    }
    return d;
  }

  static boolean isFloat(DataType t) {
    return t == DataType.DT_FLOAT
        || t == DataType.DT_DOUBLE
        || t == DataType.DT_HALF
        || t == DataType.DT_BFLOAT16;
  }

  static boolean isInt(DataType t) {
    switch (t) {
      case DT_INT32:
      case DT_INT64:
      case DT_INT16:
      case DT_INT8:
      case DT_UINT8:
      case DT_UINT16:
      case DT_BOOL:
        return true;
      default:
        return false;
    }
  }

  /** The constant, or IllegalArgumentException with a reason (caller adds the node). */
  static Cst decode(TensorProto t) {
    DataType dt = t.getDtype();
    int[] shape = dims(t.getTensorShape(), "tensor");
    int n = 1;
    for (int v : shape) {
      n *= v;
    }
    boolean fl = isFloat(dt);
    if (!fl && !isInt(dt)) {
      throw new IllegalArgumentException("constant of dtype " + dt + " is not supported");
    }
    if (!t.getTensorContent().isEmpty()) {
      int width = width(dt);
      if ((long) n * width != t.getTensorContent().size()) {
        throw new IllegalArgumentException(
            "tensor_content has "
                + t.getTensorContent().size()
                + " bytes, shape needs "
                + (long) n * width);
      }
      ByteBuffer b = t.getTensorContent().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      if (fl) {
        return Cst.floats(shape, TensorDecoding.toFloats(b, dt, n));
      }
      double[] d = new double[n];
      for (int i = 0; i < n; i++) {
        switch (dt) {
          case DT_INT32:
            d[i] = b.getInt();
            break;
          case DT_INT64:
            d[i] = b.getLong();
            break;
          case DT_INT16:
            d[i] = b.getShort();
            break;
          case DT_UINT16:
            d[i] = b.getShort() & 0xffff;
            break;
          case DT_INT8:
            d[i] = b.get();
            break;
          default: // uint8, bool
            d[i] = b.get() & 0xff;
        }
      }
      return Cst.ints(shape, d);
    }
    // Repeated fields may hold fewer values than the shape: TensorFlow repeats the last one.
    int count;
    switch (dt) {
      case DT_FLOAT:
        count = t.getFloatValCount();
        break;
      case DT_DOUBLE:
        count = t.getDoubleValCount();
        break;
      case DT_HALF:
      case DT_BFLOAT16:
        count = t.getHalfValCount();
        break;
      case DT_INT64:
        count = t.getInt64ValCount();
        break;
      case DT_BOOL:
        count = t.getBoolValCount();
        break;
      default:
        count = t.getIntValCount();
    }
    if (count > n) {
      throw new IllegalArgumentException("holds " + count + " values for shape of " + n);
    }
    if (count < n && n > MAX_EXPANDED) {
      // A few values repeated to a huge shape would allocate far more than the file holds.
      throw new IllegalArgumentException(
          "constant of " + n + " elements given by " + count + " values is too large");
    }
    float[] f = fl ? new float[n] : null;
    double[] d = fl ? null : new double[n];
    for (int i = 0; i < n && count > 0; i++) {
      double v = repeatedValue(t, dt, Math.min(i, count - 1));
      if (fl) {
        f[i] = (float) v;
      } else {
        d[i] = v;
      }
    }
    return fl ? Cst.floats(shape, f) : Cst.ints(shape, d);
  }

  // value j of the repeated field that holds dtype dt (float types already rounded to float32)
  private static double repeatedValue(TensorProto t, DataType dt, int j) {
    switch (dt) {
      case DT_FLOAT:
        return t.getFloatVal(j);
      case DT_DOUBLE:
        return (float) t.getDoubleVal(j);
      case DT_HALF:
        return TensorDecoding.halfToFloat((short) t.getHalfVal(j));
      case DT_BFLOAT16:
        return Float.intBitsToFloat((t.getHalfVal(j) & 0xffff) << 16);
      case DT_INT64:
        return t.getInt64Val(j);
      case DT_BOOL:
        return t.getBoolVal(j) ? 1 : 0;
      default:
        return t.getIntVal(j);
    }
  }

  static int width(DataType dt) {
    switch (dt) {
      case DT_INT16:
      case DT_UINT16:
        return 2;
      case DT_INT8:
      case DT_UINT8:
      case DT_BOOL:
        return 1;
      default:
        return TensorBundle.byteWidth(dt);
    }
  }
}
