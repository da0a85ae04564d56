package dev.segcam.backend;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import java.util.Set;

/**
 * A {@link CamBackend} that passes every call to another one: the base of decorators (timing,
 * counting, fault injection) that override only the calls they watch. Every method is forwarded,
 * the ones with defaults included, so a decorated backend keeps its own kernels (a CUDA backend's
 * argmax and region masks stay on the device).
 */
public abstract class ForwardingCamBackend implements CamBackend {
  /** The backend every call goes to. */
  protected final CamBackend inner;

  protected ForwardingCamBackend(CamBackend inner) {
    this.inner = inner;
  }

  @Override
  public String name() {
    return inner.name();
  }

  @Override
  public Graph graph() {
    return inner.graph();
  }

  @Override
  public boolean onHost() {
    return inner.onHost();
  }

  @Override
  public CamTensor upload(FloatTensor host) {
    return inner.upload(host);
  }

  @Override
  public Forward forward(String input, CamTensor images, Set<String> keep) {
    return inner.forward(input, images, keep);
  }

  @Override
  public CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
    return inner.scoreSeed(values, masks, classes, modes, scores);
  }

  @Override
  public CamTensor argmaxChannels(CamTensor values) {
    return inner.argmaxChannels(values);
  }

  @Override
  public CamTensor regionMasks(CamTensor labels, int[] spec) {
    return inner.regionMasks(labels, spec);
  }

  @Override
  public CamTensor channelMean(CamTensor grads) {
    return inner.channelMean(grads);
  }

  @Override
  public CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads) {
    return inner.gradCamPlusPlusWeights(acts, grads);
  }

  @Override
  public CamTensor xGradCamWeights(CamTensor acts, CamTensor grads) {
    return inner.xGradCamWeights(acts, grads);
  }

  @Override
  public CamTensor weightedSumRelu(CamTensor acts, CamTensor weights) {
    return inner.weightedSumRelu(acts, weights);
  }

  @Override
  public CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads) {
    return inner.elementwiseSumRelu(acts, grads, reluGrads);
  }

  @Override
  public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
    return inner.resizeBilinear(maps, outH, outW);
  }

  @Override
  public CamTensor normalize(CamTensor maps, Normalization norm) {
    return inner.normalize(maps, norm);
  }

  @Override
  public void close() {
    inner.close();
  }
}
