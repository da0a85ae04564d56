package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code segcam eval} end to end, and the default-layer line and linear-layer note of explain. */
class EvalCommandTest {
  static final double EXACT = 1e-9;

  @Test
  void evalWritesCurvesMetricsAndPlots(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("ev");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "eval",
            "weights/scene-unet",
            "samples/scene_03.png",
            "samples/scene_05.png",
            "--truth",
            "samples/scene_03_labels.png",
            "--truth",
            "samples/scene_05_labels.png",
            "--steps",
            "4",
            "--out",
            out.toString(),
            "--json");
    assertEquals(0, r.code(), r.err());
    JsonNode root = new ObjectMapper().readTree(Files.readString(out.resolve("eval.json")));
    assertEquals(root, new ObjectMapper().readTree(r.out()));
    assertEquals("dec1_3/conv2", root.get("layers").get(0).asText());
    List<Double> del = new ArrayList<>();
    List<Double> point = new ArrayList<>();
    assertEquals(2, root.get("images").size());
    for (JsonNode im : root.get("images")) {
      assertTrue(im.get("results").size() >= 2, im.toString());
      for (JsonNode x : im.get("results")) {
        JsonNode c = x.get("deletion_curve");
        assertEquals(5, c.size());
        // trapezoid over 4 equal steps of 1/4
        double auc = 0;
        for (int i = 0; i < 4; i++) {
          auc += (c.get(i).asDouble() + c.get(i + 1).asDouble()) / 2 / 4;
        }
        assertEquals(auc, x.get("deletion_auc").asDouble(), EXACT);
        // the first insertion point is the last deletion point (the baseline image)
        assertEquals(c.get(4).asDouble(), x.get("insertion_curve").get(0).asDouble(), EXACT);
        del.add(x.get("deletion_auc").asDouble());
        point.add(x.get("pointing").asBoolean() ? 1.0 : 0.0);
        double e = x.get("energy_in_mask").asDouble();
        assertTrue(e >= 0 && e <= 1, x.toString());
        double s = x.get("region_sensitivity_vs_whole").asDouble();
        assertTrue(s >= 0 && s <= 1, x.toString());
        BufferedImage plot = ImageIO.read(out.resolve(x.get("plot").asText()).toFile());
        assertEquals(480, plot.getWidth());
      }
    }
    assertEquals(mean(del), root.get("mean").get("deletion_auc").asDouble(), EXACT);
    assertEquals(mean(point), root.get("mean").get("pointing").asDouble(), EXACT);
  }

  @Test
  void evalRefusesAMismatchedTruthList(@TempDir Path tmp) {
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "eval",
            "weights/scene-unet",
            "samples/scene_03.png",
            "samples/scene_05.png",
            "--truth",
            "samples/scene_03_labels.png",
            "--out",
            tmp.resolve("x").toString());
    assertEquals(Main.EXIT_ERROR, r.code());
    assertTrue(r.err().contains("--truth given 1 times for 2 images"), r.err());
    assertFalse(Files.exists(tmp.resolve("x")));
  }

  @Test
  void explainSaysWhichLayerAndWhyAndNotesALinearLayerWithARegion(@TempDir Path tmp) {
    ExplainCommandTest.Run box =
        ExplainCommandTest.run(
            "explain",
            "weights/scene-unet",
            "samples/scene_03.png",
            "--box",
            "0,0,32,32",
            "--class",
            "1",
            "--out",
            tmp.resolve("a").toString());
    assertEquals(0, box.code(), box.err());
    assertTrue(
        box.out().contains("layer: dec1_2/conv1 (default: the last layer with a nonlinear path"),
        box.out());
    ExplainCommandTest.Run lin =
        ExplainCommandTest.run(
            "explain",
            "weights/scene-unet",
            "samples/scene_03.png",
            "--box",
            "0,0,32,32",
            "--class",
            "1",
            "--layer",
            "dec1_3/conv2",
            "--out",
            tmp.resolve("b").toString());
    assertEquals(0, lin.code(), lin.err());
    assertTrue(
        lin.err()
            .contains(
                "segcam: note: layer 'dec1_3/conv2' reaches the scores only through linear ops,"
                    + " so every region gives the same gradcam map up to"
                    + " scale"),
        lin.err());
    ExplainCommandTest.Run pred =
        ExplainCommandTest.run(
            "explain",
            "weights/scene-unet",
            "samples/scene_03.png",
            "--layer",
            "dec1_3/conv2",
            "--out",
            tmp.resolve("c").toString());
    assertEquals(0, pred.code(), pred.err());
    assertFalse(pred.err().contains("linear ops"), pred.err());
  }

  private static double mean(List<Double> v) {
    return v.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
  }
}
