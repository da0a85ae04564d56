package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's backward (CpuBackward over the K-target batch) against the hand-written
 * backward of the test net, fed the same forward values.
 */
class CpuCamBackendTest {
  /** Same math, different float summation order. */
  private static final Tolerance REORDERED = new Tolerance(1e-5, 1e-6);

  @Test
  void explainMatchesTheHandWrittenNet() {
    Random rnd = new Random(21);
    float[] img = new float[2 * 4 * 5 * 3];
    for (int i = 0; i < img.length; i++) {
      img[i] = (float) rnd.nextGaussian();
    }
    FloatTensor images = new FloatTensor(Shape.of(2, 4, 5, 3), img);
    for (boolean softmax : new boolean[] {true, false}) {
      PixelwiseNetBackend hand = new PixelwiseNetBackend(6, 3, softmax, 9);
      CpuCamBackend cpu =
          new CpuCamBackend(hand.graph(), in -> hand.values(in.get("image")), null, null);
      List<Target> targets =
          List.of(
              Target.pixel(1, 2, 3),
              Target.box(2, 0, 0, 3, 2).withScore(ScoreMode.PROBABILITIES),
              Target.image(0));
      List<String> layers = List.of("relu", "feat", "image");
      for (CamMethod m : CamMethod.values()) {
        List<CamResult> want = new Explainer(hand).explain(images, targets, layers, m);
        List<CamResult> got = new Explainer(cpu).explain(images, targets, layers, m);
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
          CamResult w = want.get(i);
          CamResult g = got.get(i);
          String what = m + " softmax=" + softmax + " result " + i + " (" + w.layer() + ")";
          assertEquals(w.score(), g.score(), 1e-6, what);
          REORDERED.assertClose(what + " raw", w.rawMap(), g.rawMap());
          REORDERED.assertClose(what + " upsampled", w.upsampled(), g.upsampled());
          if (w.weights() == null) {
            assertNull(g.weights());
          } else {
            REORDERED.assertClose(what + " weights", w.weights(), g.weights());
          }
        }
      }
    }
  }
}
