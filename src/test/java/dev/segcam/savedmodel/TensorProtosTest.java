package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.tensorflow.proto.DataType.DT_BFLOAT16;
import static org.tensorflow.proto.DataType.DT_BOOL;
import static org.tensorflow.proto.DataType.DT_DOUBLE;
import static org.tensorflow.proto.DataType.DT_FLOAT;
import static org.tensorflow.proto.DataType.DT_HALF;
import static org.tensorflow.proto.DataType.DT_INT16;
import static org.tensorflow.proto.DataType.DT_INT32;
import static org.tensorflow.proto.DataType.DT_INT64;
import static org.tensorflow.proto.DataType.DT_INT8;
import static org.tensorflow.proto.DataType.DT_UINT16;
import static org.tensorflow.proto.DataType.DT_UINT8;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Every dtype a Const may hold decodes to the same values from tensor_content (little-endian bytes)
 * and from its repeated field, and a repeated field shorter than the shape repeats its last value.
 */
class TensorProtosTest {
  private static double[] v(double... values) {
    return values;
  }

  /**
   * Appends stored value s of dtype dt, width bytes (16-bit floats: their bits), to both encodings.
   */
  private static void store(DataType dt, int width, double s, ByteBuffer b, TensorProto.Builder t) {
    long bits =
        dt == DT_FLOAT
            ? Float.floatToIntBits((float) s)
            : dt == DT_DOUBLE ? Double.doubleToLongBits(s) : (long) s;
    switch (width) {
      case 1 -> b.put((byte) bits);
      case 2 -> b.putShort((short) bits);
      case 4 -> b.putInt((int) bits);
      default -> b.putLong(bits);
    }
    switch (dt) {
      case DT_FLOAT -> t.addFloatVal((float) s);
      case DT_DOUBLE -> t.addDoubleVal(s);
      case DT_HALF, DT_BFLOAT16 -> t.addHalfVal((int) s);
      case DT_INT64 -> t.addInt64Val((long) s);
      case DT_BOOL -> t.addBoolVal(s != 0);
      default -> t.addIntVal((int) s);
    }
  }

  /** dtype dt of width bytes: the stored values decode to expected in both encodings. */
  private static void check(DataType dt, int width, double[] stored, double[] expected) {
    int n = stored.length;
    TensorShapeProto shape =
        TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(n)).build();
    ByteBuffer b = ByteBuffer.allocate(n * width).order(ByteOrder.LITTLE_ENDIAN);
    TensorProto.Builder repeated = TensorProto.newBuilder().setDtype(dt).setTensorShape(shape);
    for (double s : stored) {
      store(dt, width, s, b, repeated);
    }
    TensorProto.Builder last = TensorProto.newBuilder().setDtype(dt).setTensorShape(shape);
    store(dt, width, stored[n - 1], ByteBuffer.allocate(width), last);
    TensorProto content =
        TensorProto.newBuilder()
            .setDtype(dt)
            .setTensorShape(shape)
            .setTensorContent(ByteString.copyFrom(b.array()))
            .build();
    Cst fromContent = TensorProtos.decode(content);
    Cst fromRepeated = TensorProtos.decode(repeated.build());
    Cst fromLast = TensorProtos.decode(last.build());
    for (int i = 0; i < n; i++) {
      assertEquals(expected[i], fromContent.get(i), dt + " content " + i);
      assertEquals(expected[i], fromRepeated.get(i), dt + " repeated " + i);
      assertEquals(expected[n - 1], fromLast.get(i), dt + " repeated last " + i);
    }
  }

  @Test
  void floatTypes() {
    check(DT_FLOAT, 4, v(1.5, -2.25, 3e-3f), v(1.5, -2.25, 3e-3f));
    check(DT_DOUBLE, 8, v(0.1, -7.3, 1e10), v((float) 0.1, (float) -7.3, (float) 1e10));
    // half bits: 1, -2, the smallest subnormal; bfloat16 bits: 1, -3, 3.140625
    check(DT_HALF, 2, v(0x3c00, 0xc000, 0x0001), v(1, -2, 5.9604645e-8f));
    check(DT_BFLOAT16, 2, v(0x3f80, 0xc040, 0x4049), v(1, -3, 3.140625));
  }

  @Test
  void integerTypes() {
    check(DT_INT32, 4, v(7, -3, 123456), v(7, -3, 123456));
    check(DT_INT64, 8, v(1L << 40, -5, 9), v(1L << 40, -5, 9));
    check(DT_INT16, 2, v(-300, 5, 32767), v(-300, 5, 32767));
    check(DT_UINT16, 2, v(65535, 1, 40000), v(65535, 1, 40000));
    check(DT_INT8, 1, v(-7, 100, 3), v(-7, 100, 3));
    check(DT_UINT8, 1, v(255, 1, 200), v(255, 1, 200));
    check(DT_BOOL, 1, v(1, 0, 1), v(1, 0, 1));
  }
}
