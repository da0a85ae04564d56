package dev.segcam.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Acceptance: for every zoo model, segcam's importer + CPU engine compute the same output and the
 * same intermediate activations as TensorFlow, element by element within {@link
 * Tolerance#CPU_VS_TF}, on a fresh random input.
 */
class ForwardConformanceTest {

  static Stream<Arguments> cases() {
    return CpuEngines.cases();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void cpuForwardMatchesTensorFlow(String table, String name) {
    CpuEngines.assumeAvailable(table);
    try (Conformance c =
            Conformance.of(name, Conformance.batch(name), "ForwardConformanceTest." + table);
        CpuEngines engines = CpuEngines.open(table, c.graph)) {
      CpuEngine engine = engines.engine;
      assertTrue(c.irNames.size() >= 3, name + ": fewer than 3 intermediates");
      FloatTensor y = c.tf.forward(c.input);
      TfOracle.Run ref = c.tf.run(c.input, TfOracle.classSeed(y.shape(), 0, p -> true));
      Map<String, FloatTensor> got =
          engine.forward(Map.of(c.inputNode, c.input), c.irNames.values());
      Tolerance.CPU_VS_TF.assertClose(
          table + " " + name + " output", ref.output(), got.get(c.outputNode));
      for (Map.Entry<String, String> e : c.irNames.entrySet()) {
        FloatTensor want = ref.values().get(e.getKey());
        Tolerance.CPU_VS_TF.assertClose(
            table + " " + name + " " + e.getKey() + " (IR node " + e.getValue() + ")",
            want,
            got.get(e.getValue()));
      }
    }
  }
}
