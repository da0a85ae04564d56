package dev.segcam.savedmodel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.IntToDoubleFunction;
import java.util.function.ToDoubleFunction;
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
      int width = TensorDecoding.width(dt);
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
        d[i] = TensorDecoding.read(b, dt);
      }
      return Cst.ints(shape, d);
    }
    // Repeated fields may hold fewer values than the shape: TensorFlow repeats the last one.
    Stored stored = repeated(t, dt);
    int count = stored.count();
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
      double v = stored.value().applyAsDouble(Math.min(i, count - 1));
      if (fl) {
        f[i] = (float) v;
      } else {
        d[i] = v;
      }
    }
    return fl ? Cst.floats(shape, f) : Cst.ints(shape, d);
  }

  /** The values of a repeated field: how many, and value j as a double (16-bit floats decoded). */
  private record Stored(int count, IntToDoubleFunction value) {}

  // the repeated field that holds dtype dt
  private static Stored repeated(TensorProto t, DataType dt) {
    switch (dt) {
      case DT_FLOAT:
        return stored(t.getFloatValList(), Float::doubleValue);
      case DT_DOUBLE:
        return stored(t.getDoubleValList(), Double::doubleValue);
      case DT_HALF:
        return stored(t.getHalfValList(), h -> TensorDecoding.halfToFloat(h.shortValue()));
      case DT_BFLOAT16:
        return stored(t.getHalfValList(), h -> TensorDecoding.bfloat16ToFloat(h.shortValue()));
      case DT_INT64:
        return stored(t.getInt64ValList(), Long::doubleValue);
      case DT_BOOL:
        return stored(t.getBoolValList(), v -> v ? 1 : 0);
      default:
        return stored(t.getIntValList(), Integer::doubleValue);
    }
  }

  private static <T> Stored stored(List<T> values, ToDoubleFunction<T> value) {
    return new Stored(values.size(), j -> value.applyAsDouble(values.get(j)));
  }
}
