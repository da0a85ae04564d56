package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.segcam.testing.KerasZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.TensordotZoo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `--layer` takes a TensorFlow node or tensor name (as the SavedModel names it) where the import
 * maps it to an IR node: explain on the valid-padding U-Net's crop and on a Keras 2 Dense's tokens
 * (with their grid), eval on the tensordot model's stem. The JSON names the IR node.
 */
class TensorFlowLayerNamesCliTest {
  @Test
  void explainTakesTensorFlowNames(@TempDir Path tmp) throws Exception {
    Path image = tmp.resolve("cells.png");
    RandomTensors.noisePng(image, 34, 30);
    JsonNode doc = explain(tmp, KerasZoo.validUnet().dir(), image, "crop_skip/slice:0");
    assertEquals("crop_skip", doc.get("layer").asText(), doc.toString());

    Path small = tmp.resolve("small.png");
    RandomTensors.noisePng(small, 10, 8);
    JsonNode tokens = explain(tmp, TensordotZoo.denseOnTokens().dir(), small, "dense/Relu:4x5");
    assertTrue(tokens.get("layer").asText().startsWith("dense"), tokens.toString());
  }

  @Test
  void evalTakesTensorFlowNames(@TempDir Path tmp) throws Exception {
    Path image = tmp.resolve("small.png");
    RandomTensors.noisePng(image, 10, 8);
    Path out = tmp.resolve("ev");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "eval",
            TensordotZoo.denseOnTokens().dir().toString(),
            image.toString(),
            "--steps",
            "2",
            "--layer",
            "stem/relu",
            "--out",
            out.toString(),
            "--json");
    assertEquals(0, r.code(), r.out() + r.err());
    JsonNode root = new ObjectMapper().readTree(Files.readString(out.resolve("eval.json")));
    assertEquals("stem", root.get("layers").get(0).asText(), root.toString());
  }

  /** The first result of explain.json for one image, class 1 over the whole image. */
  private static JsonNode explain(Path tmp, Path model, Path image, String layer) throws Exception {
    Path out = tmp.resolve("out-" + layer.replaceAll("[^A-Za-z0-9]", "_"));
    ExplainCommandTest.Run r =
        ExplainCommandTest.explainClass1(model, image, out, "--layer", layer);
    assertEquals(0, r.code(), r.out() + r.err());
    String stem = image.getFileName().toString().replace(".png", "");
    JsonNode doc =
        new ObjectMapper().readTree(Files.readString(out.resolve(stem).resolve("explain.json")));
    JsonNode result = doc.findParent("layer");
    assertTrue(result != null, doc.toString());
    return result;
  }
}
