package dev.segcam.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The PyTorch peers (bench/peers/torch_gradcam.py: hand-written, and pytorch-grad-cam's GradCAM
 * with SemanticSegmentationTarget) give segcam's Seg-Grad-CAM maps on scene-unet, same weights
 * through {@link TorchPeerExport}: every element of the ReLU'd map at the layer (both peers; pgc's
 * own get_cam_image before its resize), the upsampled map before normalising (hand) and the
 * normalised map (both; pgc's is its final output after its cv2.resize), against segcam's Java
 * engine. Two layers: the default (dec1_3/conv2, one 1x1 conv from the logits) and the bottleneck
 * (mid_3/conv2: the gradient passes resizes, concats, convs and ReLUs). Fresh random images and
 * class each run (seed printed; -Dsegcam.seed replays).
 *
 * <p>Skipped where /usr/bin/python3 cannot import torch: CI installs no PyTorch (Debian's
 * python3-torch is on the development machine only), so there the reason says so.
 */
class TorchPeerTest {
  /**
   * Agreement as a fraction of the largest |segcam| value of each map. Both sides are float32 with
   * different convolution algorithms (segcam's Java loops vs PyTorch's oneDNN): each forward and
   * backward layer adds a few ulps of relative rounding; measured on scene-unet: see the report in
   * the test's output.
   */
  static final double TOL_OF_MAX = 2e-6;

  static final Path MODEL = Paths.get("weights", "scene-unet");
  static final int BATCH = 2;
  static final int THREADS = 1;

  @BeforeAll
  static void needsTorch() {
    String why = TorchPeer.unavailable();
    Assumptions.assumeTrue(
        why == null,
        () ->
            why
                + " (CI installs no PyTorch; this check runs where Debian's python3-torch is"
                + " installed)");
  }

  @Test
  void bothPeersGiveSegcamsMapsAtTheDefaultLayer() {
    check("dec1_3/conv2", "default");
  }

  @Test
  void bothPeersGiveSegcamsMapsAtTheBottleneck() {
    check("mid_3/conv2", "bottleneck");
  }

  private static void check(String layer, String tag) {
    long seed = Long.getLong("segcam.seed", System.nanoTime());
    System.out.println("TorchPeerTest " + tag + " seed " + seed);
    Random rng = new Random(seed);
    Graph graph = SavedModelImporter.load(MODEL).graph();
    FloatTensor images = TorchPeerExport.randomImages(rng, BATCH, 64, 64);
    TorchPeerExport.Target target = TorchPeerExport.Target.centre(rng.nextInt(4), 64, 64, layer);
    Path dir = Paths.get("target", "torch-peer-test", tag);
    List<CamResult> ref;
    try (Explainer ex = new Explainer(CpuCamBackend.create(graph))) {
      TorchPeerExport.write(dir, "scene-unet", graph, ex.logitsNode(), images, target);
      ref =
          ex.explain(images, List.of(target.segcam()), List.of(layer), CamMethod.GRAD_CAM).stream()
              .sorted(Comparator.comparingInt(CamResult::image))
              .toList();
    }
    float[] raw = concat(ref.stream().map(r -> r.rawMap().data()).toList());
    float[] up = concat(ref.stream().map(r -> r.upsampled().data()).toList());
    float[] heat = concat(ref.stream().map(r -> r.heatmap().data()).toList());
    List<String> bad = new ArrayList<>();
    for (TorchPeer.Kind kind : TorchPeer.Kind.values()) {
      try (TorchPeer peer = TorchPeer.start(dir, kind, BATCH, THREADS)) {
        TorchPeerExport.Npy maps = peer.maps();
        assertArrayEquals(new int[] {BATCH, 64, 64}, maps.shape(), kind + " map shape");
        double aRaw = TorchPeer.agreement(raw, peer.rawMaps().data());
        double aUp =
            kind == TorchPeer.Kind.HAND
                ? TorchPeer.agreement(
                    up, TorchPeerExport.readNpy(dir.resolve("out-hand-upsampled.npy")).data())
                : Double.NaN;
        double aMap = TorchPeer.agreement(heat, maps.data());
        System.out.printf(
            Locale.ROOT,
            "  %s %s class %d: max |diff| / max|segcam|: raw %.3g, upsampled %.3g, normalised"
                + " %.3g; %s%n",
            kind,
            layer,
            target.cls(),
            aRaw,
            aUp,
            aMap,
            peer.info());
        if (!(aRaw <= TOL_OF_MAX)) {
          bad.add(kind + " raw map " + aRaw);
        }
        if (!(Double.isNaN(aUp) || aUp <= TOL_OF_MAX)) {
          bad.add(kind + " upsampled map " + aUp);
        }
        if (!(aMap <= TOL_OF_MAX)) {
          bad.add(kind + " normalised map " + aMap);
        }
        assertTrue(peer.step() > 0, "a timed step");
      }
    }
    assertTrue(
        bad.isEmpty(),
        "at " + layer + ", seed " + seed + ", beyond " + TOL_OF_MAX + " of max|segcam|: " + bad);
  }

  private static float[] concat(List<float[]> parts) {
    int n = parts.stream().mapToInt(p -> p.length).sum();
    float[] out = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }
}
