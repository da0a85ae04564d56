package dev.segcam.cli;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.ForwardingCamBackend;
import dev.segcam.backend.Normalization;
import dev.segcam.backend.SeedMode;
import dev.segcam.ir.FloatTensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A {@link CamBackend} that passes every call through and adds up where the time goes: the forward
 * pass (with uploads), the backward pass, and the CAM steps (seed, weights, map, resize,
 * normalise). The Explainer stays unaware of timing; the CLI reports these sums per image.
 */
final class TimedCamBackend extends ForwardingCamBackend {
  private static final int FORWARD = 0;
  private static final int BACKWARD = 1;
  private static final int CAM = 2;

  /** Nanoseconds per stage: {forward, backward, cam}. */
  private final long[] ns = new long[3];

  TimedCamBackend(CamBackend inner) {
    super(inner);
  }

  /** Milliseconds spent so far: {forward, backward, cam}. */
  double[] millis() {
    return new double[] {ns[FORWARD] / 1e6, ns[BACKWARD] / 1e6, ns[CAM] / 1e6};
  }

  void reset() {
    Arrays.fill(ns, 0);
  }

  private <T> T cam(Supplier<T> step) {
    return timed(CAM, step);
  }

  private <T> T timed(int stage, Supplier<T> step) {
    long t0 = System.nanoTime();
    try {
      return step.get();
    } finally {
      ns[stage] += System.nanoTime() - t0;
    }
  }

  @Override
  public CamTensor upload(FloatTensor host) {
    return timed(FORWARD, () -> inner.upload(host));
  }

  @Override
  public Forward forward(String input, CamTensor images, Set<String> keep) {
    Forward f = timed(FORWARD, () -> inner.forward(input, images, keep));
    return new Forward() {
      @Override
      public CamTensor value(String node) {
        return f.value(node);
      }

      @Override
      public Map<String, CamTensor> backward(Map<String, CamTensor> seeds, List<String> layers) {
        return timed(BACKWARD, () -> f.backward(seeds, layers));
      }

      @Override
      public Map<String, CamTensor> guidedBackward(
          Map<String, CamTensor> seeds, List<String> layers) {
        return timed(BACKWARD, () -> f.guidedBackward(seeds, layers));
      }

      @Override
      public void close() {
        f.close();
      }
    };
  }

  @Override
  public CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
    return cam(() -> inner.scoreSeed(values, masks, classes, modes, scores));
  }

  @Override
  public CamTensor argmaxChannels(CamTensor values) {
    return cam(() -> inner.argmaxChannels(values));
  }

  @Override
  public CamTensor regionMasks(CamTensor labels, int[] spec) {
    return cam(() -> inner.regionMasks(labels, spec));
  }

  @Override
  public CamTensor channelMean(CamTensor grads) {
    return cam(() -> inner.channelMean(grads));
  }

  @Override
  public CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads) {
    return cam(() -> inner.gradCamPlusPlusWeights(acts, grads));
  }

  @Override
  public CamTensor xGradCamWeights(CamTensor acts, CamTensor grads) {
    return cam(() -> inner.xGradCamWeights(acts, grads));
  }

  @Override
  public CamTensor weightedSumRelu(CamTensor acts, CamTensor weights) {
    return cam(() -> inner.weightedSumRelu(acts, weights));
  }

  @Override
  public CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads) {
    return cam(() -> inner.elementwiseSumRelu(acts, grads, reluGrads));
  }

  @Override
  public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
    return cam(() -> inner.resizeBilinear(maps, outH, outW));
  }

  @Override
  public CamTensor normalize(CamTensor maps, Normalization norm) {
    return cam(() -> inner.normalize(maps, norm));
  }
}
