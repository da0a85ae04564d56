package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.segcam.backend.CamTensor;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.testing.RandomTensors;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Region masks built on the backend equal the host's, row for row, for every kind of region. */
class RegionMasksTest {
  private final long seed = RandomTensors.freshSeed("RegionMasksTest");
  private final Random rnd = new Random(seed);

  @Test
  void backendMasksEqualHostMasks() {
    int n = 2;
    int oh = 7;
    int ow = 5;
    int ch = 3;
    Graph.Builder gb = Graph.builder();
    gb.add("in", new Op.Input(Shape.of(-1, oh, ow, ch)));
    gb.output("out", "in");
    Graph g = gb.build();
    FloatTensor logits = RandomTensors.normal(rnd, Shape.of(n, oh, ow, ch));
    float[] lab = new float[n * oh * ow];
    CpuKernels.argmax_channels(lab, logits.data(), n * oh * ow, ch);
    LabelMap[] predicted = LabelMap.ofLabels(lab, n, oh, ow);
    List<List<Target>> cases =
        List.of(
            List.of(
                Target.predicted(1),
                Target.box(2, 1, 2, 4, 6),
                Target.pixel(0, 4, 6),
                Target.image(2),
                Target.box(1, 0, 0, 0, 0)),
            List.of(Target.predicted(2), Target.largestComponent(0)),
            List.of(Target.box(0, 1, 1, 3, 3), Target.mask(1, randomMask(oh, ow))));
    try (CpuCamBackend b = CpuCamBackend.create(g, 1)) {
      for (List<Target> targets : cases) {
        int rows = n * targets.size();
        float[] host = new float[rows * oh * ow];
        boolean[] onNode = new boolean[rows];
        boolean[] empty = new boolean[rows];
        for (int r = 0; r < rows; r++) {
          Target t = targets.get(r / n);
          onNode[r] = r % 3 != 2; // some rows are scored on another node: zero
          if (onNode[r]) {
            float[] m = t.region().weights(oh, ow, oh, ow, predicted[r % n], t.classIndex());
            System.arraycopy(m, 0, host, r * oh * ow, m.length);
          }
        }
        try (CamTensor got =
            RegionMasks.build(
                b, CamTensor.host(logits), targets, onNode, empty, n, oh, ow, host, true)) {
          assertArrayEquals(host, got.toHost().data(), targets + " (seed " + seed + ")");
        }
      }
    }
  }

  private boolean[][] randomMask(int h, int w) {
    boolean[][] m = new boolean[h][w];
    for (boolean[] row : m) {
      for (int x = 0; x < w; x++) {
        row[x] = rnd.nextBoolean();
      }
    }
    return m;
  }
}
