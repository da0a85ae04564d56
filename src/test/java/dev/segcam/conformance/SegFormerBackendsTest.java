package dev.segcam.conformance;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.ir.FloatTensor;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.SegFormerZoo;
import dev.segcam.testing.TfOracle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The SegFormer of {@link SegFormerZoo} through every backend's CamBackend interface (CPU, oneDNN,
 * CUDA: the attention's BatchMatMul, Softmax on (N, heads, L, L'), Dense on tokens, LayerNorm from
 * moments), against TensorFlow: output, the declared layers' values and dS/dA for a region seed,
 * each backend at its tolerance widened to the reassociation bound of the model's path. Backends
 * that cannot run here are skipped with their probe's reason.
 */
class SegFormerBackendsTest {
  static List<CamBackendConformanceTest.BackendUnderTest> backends() {
    return CamBackendConformanceTest.backends();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void segFormerMatchesTensorFlow(CamBackendConformanceTest.BackendUnderTest b) {
    String unavailable = b.unavailable().get();
    Assumptions.assumeTrue(unavailable == null, unavailable);
    Path dir = SegFormerZoo.get();
    ImportedModel m = SavedModelImporter.load(dir);
    List<String> tfNames = new ArrayList<>(SegFormerZoo.GRID_LAYERS);
    tfNames.addAll(SegFormerZoo.TOKEN_LAYERS);
    tfNames.addAll(SegFormerZoo.INNER);
    List<String> layers = tfNames.stream().map(m::nodeForTensor).toList();
    String input = m.graph().inputs().get(0);
    String out = m.graph().outputs().get("output");
    Set<String> keep = new HashSet<>(layers);
    keep.add(out);
    Random rng = new Random(RandomTensors.freshSeed("SegFormerBackendsTest." + b.name()));
    FloatTensor x = RandomTensors.image(rng, 2, SegFormerZoo.SIZE, SegFormerZoo.SIZE, 3);
    try (TfOracle tf = TfOracle.load(dir, tfNames);
        CamBackend be = b.open().apply(m.graph());
        CamTensor xt = be.upload(x);
        CamBackend.Forward f = be.forward(input, xt, keep)) {
      FloatTensor y = f.value(out).toHost();
      FloatTensor seed = TfOracle.classSeed(y.shape(), 2, p -> rng.nextFloat() < 0.3f);
      TfOracle.Run ref = tf.run(x, seed);
      String what = b.name() + " SegFormer";
      SegFormerZoo.tolerance(b.tolerance(), ref.output())
          .assertClose(what + " output", ref.output(), y);
      try (CamTensor st = be.upload(seed)) {
        Map<String, CamTensor> grads = f.backward(Map.of(out, st), layers);
        try {
          for (int i = 0; i < tfNames.size(); i++) {
            String t = tfNames.get(i);
            FloatTensor v = ref.values().get(t);
            FloatTensor d = ref.grads().get(t);
            SegFormerZoo.tolerance(b.tolerance(), v)
                .assertClose(what + " value " + t, v, f.value(layers.get(i)).toHost());
            SegFormerZoo.tolerance(b.tolerance(), d)
                .assertClose(what + " dS/d " + t, d, grads.get(layers.get(i)).toHost());
          }
        } finally {
          grads.values().forEach(CamTensor::close);
        }
      }
    }
  }
}
