package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.GuidedGradCam;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.ir.FloatTensor;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code segcam explain --method guided-gradcam} on the shipped scene-unet. */
class ExplainGuidedTest {
  @TempDir Path out;

  @Test
  void writesTheGuidedMapsAsPngsInTheJsonAndAPanel() throws Exception {
    Path img = ExplainCommandTest.sample(3);
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "explain",
            ExplainCommandTest.MODEL.toString(),
            img.toString(),
            "--class",
            "2",
            "--method",
            "guided-gradcam",
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertEquals(0, r.code(), r.err());
    Path dir = out.resolve("scene_03");
    Object doc = MiniJson.parse(java.nio.file.Files.readString(dir.resolve("explain.json")));
    assertEquals("guided-gradcam", MiniJson.path(doc, "method"));
    String guided = (String) MiniJson.path(doc, "results", 0, "guided");
    String product = (String) MiniJson.path(doc, "results", 0, "guided_grad_cam");
    BufferedImage g = ExplainCommandTest.decode(out.resolve(guided));
    BufferedImage p = ExplainCommandTest.decode(out.resolve(product));
    assertEquals(64, g.getWidth());
    assertEquals(64, p.getHeight());
    List<?> panels = (List<?>) MiniJson.path(doc, "panels");
    assertEquals(2, panels.size(), "the CAM panel and the guided panel");
    BufferedImage gp = ExplainCommandTest.decode(out.resolve((String) panels.get(1)));
    assertTrue(gp.getWidth() > 3 * ExplainCommand.TILE, "panel " + gp);

    // the PNG is the display of the API's guided map for the same target
    FloatTensor x = Images.readTensor(img);
    try (Explainer ex = Explainer.open(ExplainCommandTest.MODEL)) {
      List<Target> t = List.of(Target.predicted(2));
      GuidedGradCam.Result want =
          GuidedGradCam.explain(ex, x, t, ex.defaultLayer(t).layer(), CamMethod.GRAD_CAM).get(0);
      BufferedImage ref = Images.toImage(GuidedGradCam.display(want.guided()));
      int diff = 0;
      for (int y = 0; y < 64; y++) {
        for (int xx = 0; xx < 64; xx++) {
          diff += ref.getRGB(xx, y) != g.getRGB(xx, y) ? 1 : 0;
        }
      }
      // the CLI's input goes through the same decoding; allow a few rounding-edge pixels
      assertTrue(diff <= 64 * 64 / 100, diff + " pixels differ from the API's guided map");
    }
  }
}
