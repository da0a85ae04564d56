package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.CamTensor;
import dev.segcam.backend.Normalization;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.ir.UnknownNodeException;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The pipeline over a hand-written test net (no engine needed). */
class ExplainerTest {
  private static final int N = 2;
  private static final int H = 5;
  private static final int W = 6;
  private static final int F = 5;
  private static final int C = 4;

  /** Same formula, different float summation order (seed on probs vs softmax seed on logits). */
  private static final Tolerance REORDERED = new Tolerance(1e-5, 1e-6);

  private final Random rnd = new Random(3);
  private final FloatTensor images = rand(N, H, W, 3);

  private FloatTensor rand(int... dims) {
    float[] v = new float[Shape.of(dims).size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return new FloatTensor(Shape.of(dims), v);
  }

  private static PixelwiseNetBackend net(boolean softmax) {
    return new PixelwiseNetBackend(F, C, softmax, 5);
  }

  @Test
  void defaultLayerIsTheActivationFeedingTheClassifier() {
    assertEquals("relu", new Explainer(net(true)).defaultLayer());
    assertEquals("relu", new Explainer(net(false)).defaultLayer());
  }

  @Test
  void gradCamOfOnePixelMatchesTheAnalyticForm() {
    PixelwiseNetBackend b = net(true);
    Explainer ex = new Explainer(b);
    int c = 2;
    int x = 4;
    int y = 1;
    CamResult r = ex.explain(images, List.of(Target.pixel(c, x, y)), CamMethod.GRAD_CAM).get(1);
    // result 1 is image 1; dS/drelu is W2[:,c] at (x,y) only, so a_j = W2[j,c] / (H*W)
    assertEquals(1, r.image());
    var fwd = b.forward("image", CamTensor.host(images), null);
    float[] relu = fwd.value("relu").toHost().data();
    float[] logits = fwd.value("logits").toHost().data();
    float[] wantW = new float[F];
    for (int j = 0; j < F; j++) {
      wantW[j] = b.w2[j * C + c] / (H * W);
    }
    float[] wantMap = new float[H * W];
    for (int p = 0; p < H * W; p++) {
      double s = 0;
      for (int j = 0; j < F; j++) {
        s += wantW[j] * relu[(H * W + p) * F + j];
      }
      wantMap[p] = (float) Math.max(s, 0);
    }
    Tolerance.SAME.assertClose("weights", wantW, r.weights());
    Tolerance.SAME.assertClose("raw map", wantMap, r.rawMap().data());
    Tolerance.SAME.assertClose("upsampled (same size)", wantMap, r.upsampled().data());
    assertEquals(logits[((H * W) + y * W + x) * C + c], r.score(), 1e-6);
    assertEquals("relu", r.layer());
    float max = 0;
    for (float v : r.heatmap().data()) {
      assertTrue(v >= 0 && v <= 1);
      max = Math.max(max, v);
    }
    assertEquals(1f, max);
    // the predicted mask is the argmax of the logits
    for (int p = 0; p < H * W; p++) {
      int best = 0;
      for (int k = 1; k < C; k++) {
        if (logits[(H * W + p) * C + k] > logits[(H * W + p) * C + best]) {
          best = k;
        }
      }
      assertEquals(best, r.predicted().classes()[p]);
    }
  }

  private List<Target> mixedTargets(LabelMap pred) {
    int common = 0;
    for (int k = 1; k < C; k++) {
      if (pred.count(k) > pred.count(common)) {
        common = k;
      }
    }
    return List.of(
        Target.pixel(1, 0, 0),
        Target.box(3, 1, 1, 4, 3).withScore(ScoreMode.PROBABILITIES),
        Target.predicted(common),
        Target.largestComponent(common).withScore(ScoreMode.PROBABILITIES),
        Target.image(0));
  }

  @Test
  void kTargetsBatchedEqualKSingleRuns() {
    for (boolean softmax : new boolean[] {true, false}) {
      PixelwiseNetBackend b = net(softmax);
      Explainer ex = new Explainer(b);
      // predicted targets must exist on both images: use image 0's most common class on 1 image
      FloatTensor one =
          new FloatTensor(Shape.of(1, H, W, 3), java.util.Arrays.copyOf(images.data(), H * W * 3));
      LabelMap pred =
          ex.explain(one, List.of(Target.image(0)), List.of("relu"), CamMethod.GRAD_CAM)
              .get(0)
              .predicted();
      List<Target> targets = mixedTargets(pred);
      List<String> layers = List.of("relu", "feat", "image");
      for (CamMethod m : CamMethod.values()) {
        b.forwards = 0;
        b.backwards = 0;
        List<CamResult> all = ex.explain(one, targets, layers, m);
        assertEquals(1, b.forwards, "one forward for all targets");
        assertEquals(1, b.backwards, "one backward for all targets and layers");
        assertEquals(targets.size() * layers.size(), all.size());
        for (int t = 0; t < targets.size(); t++) {
          List<CamResult> single = ex.explain(one, List.of(targets.get(t)), layers, m);
          for (int l = 0; l < layers.size(); l++) {
            CamResult a = all.get(t * layers.size() + l);
            CamResult s = single.get(l);
            String what = m + " softmax=" + softmax + " target " + t + " layer " + a.layer();
            assertEquals(t, a.targetIndex());
            assertEquals(s.layer(), a.layer());
            assertEquals(s.score(), a.score(), what);
            Tolerance.SAME.assertClose(what + " raw", s.rawMap(), a.rawMap());
            Tolerance.SAME.assertClose(what + " heatmap", s.heatmap(), a.heatmap());
            if (s.weights() == null) {
              assertNull(a.weights());
            } else {
              Tolerance.SAME.assertClose(what + " weights", s.weights(), a.weights());
            }
          }
        }
      }
    }
  }

  @Test
  void resultsAreImageMajorThenTargetThenLayer() {
    Explainer ex = new Explainer(net(false));
    List<Target> ts = List.of(Target.image(0), Target.image(1));
    List<CamResult> r = ex.explain(images, ts, List.of("relu", "feat"), CamMethod.GRAD_CAM);
    assertEquals(8, r.size());
    List<String> order = new ArrayList<>();
    for (CamResult c : r) {
      order.add(c.image() + "/" + c.targetIndex() + "/" + c.layer());
    }
    assertEquals(
        List.of(
            "0/0/relu",
            "0/0/feat",
            "0/1/relu",
            "0/1/feat",
            "1/0/relu",
            "1/0/feat",
            "1/1/relu",
            "1/1/feat"),
        order);
  }

  @Test
  void probabilityScoresAgreeWhetherTheSoftmaxIsInTheGraphOrNot() {
    List<Target> ts =
        List.of(
            Target.box(2, 0, 0, 3, 2).withScore(ScoreMode.PROBABILITIES),
            Target.box(2, 0, 0, 3, 2));
    List<CamResult> inGraph =
        new Explainer(net(true)).explain(images, ts, List.of("relu"), CamMethod.GRAD_CAM);
    List<CamResult> ours =
        new Explainer(net(false)).explain(images, ts, List.of("relu"), CamMethod.GRAD_CAM);
    for (int i = 0; i < inGraph.size(); i++) {
      assertEquals(inGraph.get(i).score(), ours.get(i).score(), 1e-5);
      REORDERED.assertClose("weights " + i, inGraph.get(i).weights(), ours.get(i).weights());
    }
    // probabilities lie in (0,1) per pixel: 6 pixels
    assertTrue(inGraph.get(0).score() > 0 && inGraph.get(0).score() < 6);
  }

  @Test
  void fixedNormalisationIsSharedAcrossMaps() {
    Explainer ex = new Explainer(net(false)).normalization(Normalization.fixed(1000));
    CamResult r =
        ex.explain(images, List.of(Target.image(1)), List.of("relu"), CamMethod.GRAD_CAM).get(0);
    for (int i = 0; i < H * W; i++) {
      assertEquals(r.upsampled().data()[i] / 1000f, r.heatmap().data()[i], 1e-6);
    }
  }

  @Test
  void errorsNameWhatWasWrong() {
    Explainer ex = new Explainer(net(true)).labels(new Labels(List.of("bg", "road", "car", "sky")));
    var cls =
        assertThrows(
            CamException.ClassOutOfRangeException.class,
            () -> ex.explain(images, List.of(Target.image(4)), CamMethod.GRAD_CAM));
    assertTrue(
        cls.getMessage().contains("class 4") && cls.getMessage().contains("4 classes"),
        cls.getMessage());
    var px =
        assertThrows(
            CamException.PixelOutOfRangeException.class,
            () -> ex.explain(images, List.of(Target.pixel(1, W, 0)), CamMethod.GRAD_CAM));
    assertTrue(
        px.getMessage().contains("x=" + W) && px.getMessage().contains(W + "x" + H),
        px.getMessage());
    var empty =
        assertThrows(
            CamException.EmptyMaskException.class,
            () ->
                ex.explain(
                    images,
                    List.of(Target.image(0), Target.mask(2, new boolean[H][W])),
                    CamMethod.GRAD_CAM));
    assertTrue(
        empty.getMessage().contains("target 1") && empty.getMessage().contains("(car)"),
        empty.getMessage());
    var unknown =
        assertThrows(
            UnknownNodeException.class,
            () ->
                ex.explain(images, List.of(Target.image(0)), List.of("rleu"), CamMethod.GRAD_CAM));
    assertTrue(unknown.suggestions().contains("relu"), unknown.getMessage());
    var side =
        assertThrows(
            CamException.LayerNotOnScorePathException.class,
            () ->
                ex.explain(images, List.of(Target.image(0)), List.of("side"), CamMethod.GRAD_CAM));
    assertTrue(side.getMessage().contains("'side'"), side.getMessage());
    // logits scores do not depend on the softmax after them
    assertThrows(
        CamException.LayerNotOnScorePathException.class,
        () -> ex.explain(images, List.of(Target.image(0)), List.of("probs"), CamMethod.GRAD_CAM));
    assertThrows(
        CamException.class,
        () -> ex.explain(rand(H, W, 3), List.of(Target.image(0)), CamMethod.GRAD_CAM));
    assertThrows(CamException.class, () -> ex.explain(images, List.of(), CamMethod.GRAD_CAM));
  }

  @Test
  void predictedMaskIsAnOutput() {
    Explainer ex = new Explainer(net(false));
    List<CamResult> r =
        ex.explain(images, List.of(Target.image(0)), List.of("relu"), CamMethod.HIRES_CAM);
    assertArrayEquals(
        new int[] {H, W}, new int[] {r.get(1).predicted().height(), r.get(1).predicted().width()});
  }

  @Test
  void anyOutputCanBeExplained() {
    Explainer ex = new Explainer(net(true));
    assertEquals("probs", ex.outputNode());
    assertEquals("logits", ex.logitsNode());
    ex.output("side"); // a Tanh output: scored as is
    assertEquals("side", ex.logitsNode());
    List<CamResult> r =
        ex.explain(images, List.of(Target.pixel(2, 1, 1)), List.of("feat"), CamMethod.GRAD_CAM);
    assertEquals(N, r.size());
    assertThrows(
        CamException.LayerNotOnScorePathException.class,
        () -> ex.explain(images, List.of(Target.image(0)), List.of("relu"), CamMethod.GRAD_CAM));
    assertThrows(UnknownNodeException.class, () -> ex.output("nope"));
  }
}
