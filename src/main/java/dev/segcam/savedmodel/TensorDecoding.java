package dev.segcam.savedmodel;

import java.nio.ByteBuffer;
import org.tensorflow.proto.DataType;

/** Conversions of TensorFlow's numeric encodings to float32. */
final class TensorDecoding {
  private TensorDecoding() {}

  /** Bytes of one value of dtype dt, or 0 for a dtype segcam does not read. */
  static int width(DataType dt) {
    switch (dt) {
      case DT_DOUBLE:
      case DT_INT64:
        return 8;
      case DT_FLOAT:
      case DT_INT32:
        return 4;
      case DT_HALF:
      case DT_BFLOAT16:
      case DT_INT16:
      case DT_UINT16:
        return 2;
      case DT_INT8:
      case DT_UINT8:
      case DT_BOOL:
        return 1;
      default:
        return 0;
    }
  }

  /**
   * The next little-endian value of dtype dt (one with a {@link #width}) in b; float types come
   * rounded to float32.
   */
  static double read(ByteBuffer b, DataType dt) {
    switch (dt) {
      case DT_FLOAT:
        return b.getFloat();
      case DT_DOUBLE:
        return (float) b.getDouble();
      case DT_HALF:
        return halfToFloat(b.getShort());
      case DT_BFLOAT16:
        return bfloat16ToFloat(b.getShort());
      case DT_INT32:
        return b.getInt();
      case DT_INT64:
        return b.getLong();
      case DT_INT16:
        return b.getShort();
      case DT_UINT16:
        return b.getShort() & 0xffff;
      case DT_INT8:
        return b.get();
      default: // uint8, bool
        return b.get() & 0xff;
    }
  }

  /** n little-endian values of dtype dt from b, as floats; b must hold enough bytes. */
  static float[] toFloats(ByteBuffer b, DataType dt, int n) {
    if (width(dt) == 0) {
      throw new IllegalArgumentException("no float conversion for " + dt);
    }
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      // a long goes to float in one rounding, not through double
      out[i] = dt == DataType.DT_INT64 ? b.getLong() : (float) read(b, dt);
    }
    return out;
  }

  /** bfloat16 (the high half of a float32) to float32. */
  static float bfloat16ToFloat(short h) {
    return Float.intBitsToFloat((h & 0xffff) << 16);
  }

  /** IEEE 754 binary16 to float32, including subnormals, infinities and NaN. */
  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits >>> 15) << 31;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }
}
