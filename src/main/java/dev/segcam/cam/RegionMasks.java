package dev.segcam.cam;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.CpuKernels;
import java.util.List;

/**
 * The region masks (N*K,oh,ow) of the rows seeded on one node, built on the backend from its own
 * label maps ({@link CamBackend#regionMasks}) when every such row's region is the predicted pixels
 * of its class, a box, a pixel or the whole image: then only a spec of six ints per row goes to the
 * device. Masks given by the caller and largest components are made on the host and uploaded.
 */
final class RegionMasks {
  private RegionMasks() {}

  /**
   * @param logits (N,oh,ow,C) the values the label maps are the argmax of
   * @param onNode rows r = t*N + i seeded on this node (others get a zero mask)
   * @param empty rows whose region is empty (zero mask)
   * @param hostMasks the same masks made on the host, uploaded when the backend cannot make them
   * @param onBackend make the masks on the backend where the regions allow it; a host backend
   *     passes false (the host's masks are already where the values live)
   */
  static CamTensor build(
      CamBackend backend,
      CamTensor logits,
      List<Target> targets,
      boolean[] onNode,
      boolean[] empty,
      int n,
      int oh,
      int ow,
      float[] hostMasks,
      boolean onBackend) {
    if (!onBackend) {
      return backend.upload(new FloatTensor(Shape.of(onNode.length, oh, ow), hostMasks));
    }
    int rows = onNode.length;
    int[] spec = new int[rows * CpuKernels.REGION_SPEC];
    boolean labels = false;
    for (int r = 0; r < rows; r++) {
      int o = r * CpuKernels.REGION_SPEC;
      Target t = targets.get(r / n);
      spec[o + 1] = t.classIndex();
      if (!onNode[r] || empty[r]) {
        spec[o] = CpuKernels.REGION_ZERO;
        continue;
      }
      Target.Region g = t.region();
      if (g instanceof Target.Predicted p && !p.largestComponent()) {
        spec[o] = CpuKernels.REGION_PREDICTED;
        labels = true;
      } else if (g instanceof Target.Box b) {
        box(spec, o, b.x0(), b.y0(), b.x1(), b.y1());
      } else if (g instanceof Target.Pixel p) {
        box(spec, o, p.x(), p.y(), p.x() + 1, p.y() + 1);
      } else if (g instanceof Target.WholeImage) {
        box(spec, o, 0, 0, ow, oh);
      } else {
        return backend.upload(new FloatTensor(Shape.of(rows, oh, ow), hostMasks));
      }
    }
    if (!labels) {
      // boxes only: no label map needed; any (N,oh,ow) tensor stands in for it
      try (CamTensor none =
          backend.upload(new FloatTensor(Shape.of(n, oh, ow), new float[n * oh * ow]))) {
        return backend.regionMasks(none, spec);
      }
    }
    try (CamTensor l = backend.argmaxChannels(logits)) {
      return backend.regionMasks(l, spec);
    }
  }

  private static void box(int[] spec, int o, int x0, int y0, int x1, int y1) {
    spec[o] = CpuKernels.REGION_BOX;
    spec[o + 2] = x0;
    spec[o + 3] = y0;
    spec[o + 4] = x1;
    spec[o + 5] = y1;
  }
}
