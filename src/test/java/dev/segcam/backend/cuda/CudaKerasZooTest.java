package dev.segcam.backend.cuda;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.KerasZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.TfOracle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@link KerasZoo} models on CUDA: the value of every node and the gradient at every node
 * between the input and the output equal the CPU engine's (strict FP32, {@link
 * CudaCamBackendTest#NET_RTOL}), so the ops their layers import as (MirrorPad's reversed slices and
 * concats, tf.nn's dilated conv as Pad + dilated conv + crop, DepthToSpace's reshape/transpose,
 * InstanceNorm's moments) run on the GPU as on the CPU, which KerasZooTest checks against
 * TensorFlow.
 */
@RequiresGpu
class CudaKerasZooTest {
  static Stream<String> models() {
    return KerasZoo.MODELS.keySet().stream().sorted();
  }

  /** The file beside a pre-exported model (ZooExport) that holds its run shape. */
  static final String RUN_SHAPE = "run-shape.txt";

  @ParameterizedTest(name = "{0}")
  @MethodSource("models")
  void forwardAndGradientsMatchCpu(String name) throws IOException {
    // On the GPU machine (no TensorFlow native) the models come exported by ZooExport.
    Path pre = CudaCamBackendTest.zooDir().resolve("keras").resolve(name);
    Path dir;
    int[] shape;
    if (Files.isRegularFile(pre.resolve(RUN_SHAPE))) {
      dir = pre;
      shape =
          Arrays.stream(Files.readString(pre.resolve(RUN_SHAPE)).trim().split(" "))
              .mapToInt(Integer::parseInt)
              .toArray();
    } else {
      KerasZoo.Model m = KerasZoo.MODELS.get(name).get();
      dir = m.dir();
      shape = m.runShape();
    }
    Graph g = SavedModelImporter.loadAtImageSize(dir, null, shape[1], shape[2]).graph();
    Random rng = new Random(RandomTensors.freshSeed("CudaKerasZooTest." + name));
    FloatTensor img = RandomTensors.input(rng, shape);
    String input = g.inputs().get(0);
    String out = g.primaryOutput();
    Set<String> all = new LinkedHashSet<>();
    g.nodes().forEach(x -> all.add(x.name()));
    List<String> failures = new ArrayList<>();
    try (CpuCamBackend cpu = CpuCamBackend.create(g, 2);
        CudaCamBackend cuda = CudaCamBackend.create(g);
        CamTensor dimg = cuda.upload(img);
        CamBackend.Forward cf = cuda.forward(input, dimg, all);
        CamBackend.Forward pf = cpu.forward(input, CamTensor.host(img), all)) {
      Map<String, FloatTensor> values = new HashMap<>();
      for (Node node : g.nodes()) {
        FloatTensor c = cf.value(node.name()).toHost();
        values.put(node.name(), c);
        if (!(node.op() instanceof Op.Input) && !(node.op() instanceof Op.Const)) {
          addIfFails(
              failures,
              CudaCamBackendTest.compare(
                  name + " forward " + node.name() + " (" + node.op().type() + ")",
                  pf.value(node.name()).toHost(),
                  c,
                  CudaCamBackendTest.NET_RTOL,
                  CudaCamBackendTest.NET_ATOL_OF_MAX));
        }
      }
      CudaCamBackendTest.failIfAny(failures);
      FloatTensor y = values.get(out);
      int classes = y.shape().dim(y.shape().rank() - 1);
      FloatTensor seed = TfOracle.classSeed(y.shape(), classes - 1, p -> rng.nextFloat() < 0.5f);
      List<String> layers = CudaCamBackendTest.layers(g, out);
      Map<String, FloatTensor> ref = CpuBackward.backward(g, values, Map.of(out, seed), layers);
      try (CamTensor dseed = cuda.upload(seed)) {
        Map<String, CamTensor> grads = cf.backward(Map.of(out, dseed), layers);
        try {
          for (String l : layers) {
            addIfFails(
                failures,
                CudaCamBackendTest.compareGradient(
                    name + " grad " + l + " (" + g.node(l).op().type() + ")",
                    g,
                    l,
                    ref,
                    grads.get(l).toHost(),
                    CudaCamBackendTest.NET_RTOL,
                    CudaCamBackendTest.NET_ATOL_OF_MAX));
          }
        } finally {
          grads.values().forEach(CamTensor::close);
        }
      }
      CudaCamBackendTest.failIfAny(failures);
    }
  }

  private static void addIfFails(List<String> failures, String failure) {
    if (failure != null) {
      failures.add(failure);
    }
  }
}
