package dev.segcam.backend;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.CamKernels;
import dev.segcam.kernels.HostCamKernels;

/**
 * The CAM steps on host tensors, shared by the CPU backend (and by test backends): {@link
 * KernelCamBackend}'s steps over the kernels' CPU twins. Subclasses supply forward and backward.
 */
public abstract class HostCamBackend
    extends KernelCamBackend<CamTensor.Host, HostCamKernels.Slice> {
  private boolean sparseSeeds = true;

  @Override
  public boolean onHost() {
    return true;
  }

  /**
   * Whether {@link #scoreSeed} returns a {@link SparseSeed} (the default: a backward that knows it
   * consumes it factored; any other sees its dense form) or the dense seed tensor.
   */
  public HostCamBackend sparseSeeds(boolean on) {
    this.sparseSeeds = on;
    return this;
  }

  @Override
  public CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
    if (!sparseSeeds) {
      return super.scoreSeed(values, masks, classes, modes, scores);
    }
    return SparseSeed.of(
        own(values, "score node values").tensor(),
        own(masks, "masks").tensor(),
        classes,
        modes,
        scores,
        () -> {
          try (CamTensor d =
              HostCamBackend.super.scoreSeed(
                  values, masks, classes, modes, new float[classes.length])) {
            return d.toHost().data();
          }
        });
  }

  @Override
  public CamTensor upload(FloatTensor host) {
    return CamTensor.host(host);
  }

  @Override
  protected CamKernels<HostCamKernels.Slice> stepKernels() {
    return HostCamKernels.INSTANCE;
  }

  @Override
  protected CamTensor.Host own(CamTensor t, String what) {
    return t instanceof CamTensor.Host h ? h : new CamTensor.Host(t.toHost());
  }

  @Override
  protected CamTensor.Host newTensor(Shape shape) {
    return new CamTensor.Host(new FloatTensor(shape, new float[shape.size()]));
  }

  @Override
  protected HostCamKernels.Slice rows(CamTensor.Host t, int from, int count, int rowFloats) {
    return new HostCamKernels.Slice(t.tensor().data(), from * rowFloats, count * rowFloats);
  }

  @Override
  public void close() {}
}
