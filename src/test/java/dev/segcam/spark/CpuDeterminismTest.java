package dev.segcam.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.ExplainerPool;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a Spark executor's settings may change in the CAMs on the CPU: neither the engine's thread
 * count (1, 2 or 3 threads per explainer) nor the batch a frame lands in (alone or with three
 * others) changes a bit, so the output does not depend on executor cores, task slots, batchSize or
 * how frames are partitioned.
 */
class CpuDeterminismTest {
  private static final Path MODEL = Path.of("weights/scene-unet");
  private static final List<Target> TARGETS =
      ExplainSpec.parseTargets(List.of("1", "3", "0:whole", "2:box=0,0,32,32"));

  @Test
  void threadCountAndBatchingChangeNoBit() {
    Graph graph = SavedModelImporter.load(MODEL).graph();
    List<FloatTensor> imgs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      imgs.add(Images.readTensor(Path.of("samples/scene_0" + i + ".png")));
    }
    float[] all = new float[4 * 64 * 64 * 3];
    for (int i = 0; i < 4; i++) {
      System.arraycopy(imgs.get(i).data(), 0, all, i * 64 * 64 * 3, 64 * 64 * 3);
    }
    FloatTensor batch = new FloatTensor(Shape.of(4, 64, 64, 3), all);
    List<CamResult> ref = null;
    for (int threads = 1; threads <= 3; threads++) {
      try (ExplainerPool pool =
          ExplainerPool.cpu(graph, 1, threads, ex -> ex.emptyTargetsAsZero(true))) {
        List<CamResult> batched =
            pool.withExplainer(ex -> ex.explain(batch, TARGETS, CamMethod.GRAD_CAM));
        List<CamResult> single = new ArrayList<>();
        for (FloatTensor img : imgs) {
          single.addAll(pool.withExplainer(ex -> ex.explain(img, TARGETS, CamMethod.GRAD_CAM)));
        }
        if (ref == null) {
          ref = single;
        }
        same(ref, single, threads + " threads, one frame per call");
        same(ref, batched, threads + " threads, batch of 4");
      }
    }
  }

  private static void same(List<CamResult> a, List<CamResult> b, String what) {
    assertEquals(a.size(), b.size(), what);
    for (int i = 0; i < a.size(); i++) {
      String w = what + ", result " + i;
      assertEquals(
          Float.floatToIntBits(a.get(i).score()), Float.floatToIntBits(b.get(i).score()), w);
      bits(a.get(i).weights(), b.get(i).weights(), w + " weights");
      bits(a.get(i).heatmap().data(), b.get(i).heatmap().data(), w + " heatmap");
    }
  }

  private static void bits(float[] x, float[] y, String what) {
    assertEquals(x.length, y.length, what);
    for (int i = 0; i < x.length; i++) {
      if (Float.floatToIntBits(x[i]) != Float.floatToIntBits(y[i])) {
        throw new AssertionError(what + "[" + i + "]: " + x[i] + " vs " + y[i]);
      }
    }
  }
}
