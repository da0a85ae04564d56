package dev.segcam.backend.onednn;

import dev.segcam.kernels.ConvGeometry;
import org.bytedeco.dnnl.memory;

/** Memory descriptors for the layouts segcam's arrays use (all float32). */
final class Descs {
  private Descs() {}

  static final memory.data_type F32 = memory.data_type.f32;

  /** An NHWC activation (N,H,W,C) under oneDNN's logical dims (N,C,H,W). */
  static memory.desc nhwc(int n, int h, int w, int c) {
    return new memory.desc(new long[] {n, c, h, w}, F32, memory.format_tag.nhwc);
  }

  /** The same logical dims with the layout left to the primitive. */
  static memory.desc any(long... dims) {
    return new memory.desc(dims, F32, memory.format_tag.any);
  }

  /**
   * A dense row-major tensor of the given dims: oneDNN's plain tag of that rank (a, ab, abc, ...,
   * up to its 12 dims).
   */
  static memory.desc rowMajor(long... dims) {
    if (dims.length < 1 || dims.length > PLAIN.length()) {
      throw new OneDnnUnsupportedException("oneDNN takes 1 to 12 dims, not " + dims.length);
    }
    return new memory.desc(dims, F32, memory.format_tag.valueOf(PLAIN.substring(0, dims.length)));
  }

  private static final String PLAIN = "abcdefghijkl";

  /** Logical dims with explicit element strides (weights in TensorFlow's layouts). */
  static memory.desc strided(long[] dims, long[] strides) {
    return new memory.desc(dims, F32, strides);
  }

  /** A window op's strides {sh, sw}. */
  static long[] strides(ConvGeometry g) {
    return new long[] {g.sh(), g.sw()};
  }

  /** Its dilations in oneDNN's terms: the gap, so segcam's d - 1. */
  static long[] dilations(ConvGeometry g) {
    return new long[] {g.dh() - 1, g.dw() - 1};
  }

  /** Its pads before {top, left}. */
  static long[] padBefore(ConvGeometry g) {
    return new long[] {g.padT(), g.padL()};
  }

  /** Its pads after {bottom, right}. */
  static long[] padAfter(ConvGeometry g) {
    return new long[] {g.padB(), g.padR()};
  }
}
