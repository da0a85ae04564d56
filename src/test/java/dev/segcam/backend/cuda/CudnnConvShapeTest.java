package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.Padding;
import dev.segcam.kernels.ConvGeometry;
import org.junit.jupiter.api.Test;

/** Host-side parts of the cuDNN wrapper: no GPU needed. */
class CudnnConvShapeTest {
  @Test
  void filterToKrscMovesOutputChannelsFirst() {
    int kh = 2, kw = 3, in = 4, f = 5;
    float[] hwio = new float[kh * kw * in * f];
    for (int i = 0; i < hwio.length; i++) {
      hwio[i] = i;
    }
    float[] krsc = CudnnConv.filterToKrsc(hwio, kh, kw, in, f);
    for (int o = 0; o < f; o++) {
      for (int y = 0; y < kh; y++) {
        for (int x = 0; x < kw; x++) {
          for (int c = 0; c < in; c++) {
            assertEquals(
                hwio[((y * kw + x) * in + c) * f + o], krsc[((o * kh + y) * kw + x) * in + c]);
          }
        }
      }
    }
    // 1x1 with one input channel is the identity
    assertArrayEquals(
        new float[] {1, 2, 3}, CudnnConv.filterToKrsc(new float[] {1, 2, 3}, 1, 1, 1, 3));
  }

  @Test
  void asymmetricSamePaddingRunsOnAnExplicitlyPaddedGrid() {
    ConvGeometry.Window k3 = new ConvGeometry.Window(3, 3, 1, 1, 1, 1);
    ConvGeometry s = ConvGeometry.forward(1, 9, 9, 3, 8, 1, k3, Padding.SAME);
    assertTrue(s.symmetric());
    assertEquals(1, s.padT());
    assertEquals(9, s.oh());
    assertSame(s, s.padded());
    ConvGeometry.Window k3s2 = new ConvGeometry.Window(3, 3, 2, 2, 1, 1);
    ConvGeometry s2 = ConvGeometry.forward(1, 9, 9, 3, 8, 1, k3s2, Padding.SAME);
    assertEquals(5, s2.oh()); // ceil(9/2), pad 1 each side
    assertTrue(s2.symmetric());
    // 64 with stride 2: TensorFlow pads 0 before, 1 after; cuDNN gets the padded 65x65 grid
    ConvGeometry odd = ConvGeometry.forward(1, 64, 64, 3, 8, 1, k3s2, Padding.SAME);
    assertFalse(odd.symmetric());
    assertEquals(0, odd.padT());
    assertEquals(1, odd.padB());
    ConvGeometry p = odd.padded();
    assertTrue(p.symmetric());
    assertEquals(65, p.h());
    assertEquals(0, p.padT());
    assertEquals(odd.oh(), p.oh());
    assertNull(p.unsupportedReason());
    ConvGeometry.Window dil = new ConvGeometry.Window(3, 3, 1, 1, 2, 2);
    ConvGeometry d = ConvGeometry.forward(1, 10, 10, 3, 8, 1, dil, Padding.SAME);
    assertEquals(2, d.padT());
    assertEquals(10, d.ow());
  }

  @Test
  void badGroupsRejected() {
    ConvGeometry g = new ConvGeometry(1, 4, 4, 6, 3, 3, 8, 4, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4);
    assertTrue(g.unsupportedReason().contains("groups"), g.unsupportedReason());
  }
}
