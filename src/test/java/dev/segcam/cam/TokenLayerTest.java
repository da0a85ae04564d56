package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.ir.TokenGrids;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.SegFormerZoo;
import dev.segcam.testing.Tolerance;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Transformer tokens (N, L, C) as CAM layers on the SegFormer of {@link SegFormerZoo}: the grid
 * found from the graph's reshape, or given as NAME:HxW, gives the map of the stage's output
 * reshaped to its grid by the model itself (same values, same gradients).
 */
class TokenLayerTest {
  @Test
  void tokenLayersAreExplainedOnTheirGrid() {
    ImportedModel m = SavedModelImporter.load(SegFormerZoo.get());
    Graph g = m.graph();
    String tokens1 = m.nodeForTensor(SegFormerZoo.TOKEN_LAYERS.get(0));
    String tokens2 = m.nodeForTensor(SegFormerZoo.TOKEN_LAYERS.get(1));
    String grid1 = m.nodeForTensor(SegFormerZoo.GRID_LAYERS.get(0));
    String grid2 = m.nodeForTensor(SegFormerZoo.GRID_LAYERS.get(1));
    assertEquals(3, g.node(tokens1).shape().rank());
    assertTrue(
        java.util.Arrays.equals(new int[] {8, 8}, TokenGrids.findGrid(g, tokens1)),
        "stage 1's 64 tokens are the 8x8 grid of its reshape");

    TokenGrids.Rewritten r = TokenGrids.apply(g, List.of(tokens1, tokens2 + ":4x4", grid1));
    assertEquals(List.of(tokens1 + TokenGrids.GRID, tokens2 + TokenGrids.GRID, grid1), r.layers());
    assertEquals(Shape.of(-1, 8, 8, 16), r.graph().node(r.layers().get(0)).shape());

    Random rng = new Random(RandomTensors.freshSeed("TokenLayerTest"));
    FloatTensor x = RandomTensors.image(rng, 1, SegFormerZoo.SIZE, SegFormerZoo.SIZE, 3);
    List<Target> targets = List.of(Target.image(1));
    List<CamResult> viaTokens;
    List<CamResult> viaGrids;
    try (Explainer ex = new Explainer(CpuCamBackend.create(r.graph()))) {
      viaTokens = ex.explain(x, targets, r.layers().subList(0, 2), CamMethod.GRAD_CAM);
    }
    try (Explainer ex = new Explainer(CpuCamBackend.create(g))) {
      viaGrids = ex.explain(x, targets, List.of(grid1, grid2), CamMethod.GRAD_CAM);
    }
    for (int i = 0; i < 2; i++) {
      Tolerance.SAME.assertClose(
          "token layer " + i + " raw map", viaGrids.get(i).rawMap(), viaTokens.get(i).rawMap());
      Tolerance.SAME.assertClose(
          "token layer " + i + " heatmap", viaGrids.get(i).heatmap(), viaTokens.get(i).heatmap());
    }

    ShapeException wrong =
        assertThrows(ShapeException.class, () -> TokenGrids.apply(g, List.of(tokens1 + ":4x4")));
    assertTrue(wrong.getMessage().contains("64 tokens, not 4x4"), wrong.getMessage());
    ShapeException notTokens =
        assertThrows(ShapeException.class, () -> TokenGrids.apply(g, List.of(grid1 + ":8x8")));
    assertTrue(notTokens.getMessage().contains("not tokens"), notTokens.getMessage());
  }
}
