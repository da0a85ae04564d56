package dev.segcam.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.Target;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExplainSpecTest {
  @Test
  void parsesEveryTargetForm() {
    assertEquals(Target.predicted(3), ExplainSpec.parseTarget("3"));
    assertEquals(Target.predicted(3), ExplainSpec.parseTarget(" 3:Predicted "));
    assertEquals(Target.largestComponent(1), ExplainSpec.parseTarget("1:component"));
    assertEquals(Target.image(0), ExplainSpec.parseTarget("0:whole"));
    assertEquals(Target.pixel(2, 5, 7), ExplainSpec.parseTarget("2:pixel=5,7"));
    assertEquals(Target.box(2, 0, 1, 8, 9), ExplainSpec.parseTarget("2:box=0,1,8,9"));
  }

  @Test
  void badTargetsAndSettingsAreRefusedOnTheDriverNamingThem() {
    for (String bad : List.of("x", "-1", "3:pixel=1", "3:box=4,4,2,8", "3:disc", "3:pixel=a,b")) {
      SparkExplainException e =
          assertThrows(SparkExplainException.class, () -> ExplainSpec.of("m", List.of(bad)));
      assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
    assertThrows(SparkExplainException.class, () -> ExplainSpec.of("m", List.of()));
    assertThrows(SparkExplainException.class, () -> ExplainSpec.of("m", List.of("1")).withBatch(0));
    assertThrows(
        SparkExplainException.class,
        () -> ExplainSpec.of("m", List.of("1")).withOutputs(false, false));
  }

  @Test
  void methodNamesAsTheCliSpellsThem() {
    assertEquals(CamMethod.GRAD_CAM, SegGradCamTransformer.parseMethod("gradcam"));
    assertEquals(CamMethod.GRAD_CAM_PLUS_PLUS, SegGradCamTransformer.parseMethod("gradcam++"));
    assertEquals(CamMethod.HIRES_CAM, SegGradCamTransformer.parseMethod("HIRES_CAM"));
    assertEquals(CamMethod.LAYER_CAM, SegGradCamTransformer.parseMethod("layercam"));
    assertThrows(SparkExplainException.class, () -> SegGradCamTransformer.parseMethod("cam"));
  }

  @Test
  void transformerParamsAreVisibleToSparkMlAndBecomeTheSpec() {
    SegGradCamTransformer t =
        new SegGradCamTransformer().setModelPath("weights/scene-unet").setTargets("1", "3:whole");
    String params = t.explainParams();
    for (String p : List.of("modelPath", "targets", "batchSize", "onError", "heatmapPng")) {
      assertTrue(params.contains(p + ":"), params);
    }
    ExplainSpec spec = t.setMethod("gradcam++").setBatchSize(4).setOnError("fail").spec();
    assertEquals(List.of("1", "3:whole"), spec.targets());
    assertEquals(CamMethod.GRAD_CAM_PLUS_PLUS, spec.method());
    assertEquals(4, spec.batch());
    assertEquals(ExplainSpec.OnError.FAIL, spec.onError());
    SegGradCamTransformer copy = t.copy(new org.apache.spark.ml.param.ParamMap());
    assertEquals(t.uid(), copy.uid());
    assertEquals(spec, copy.spec());
    assertThrows(SparkExplainException.class, () -> new SegGradCamTransformer().spec());
  }
}
