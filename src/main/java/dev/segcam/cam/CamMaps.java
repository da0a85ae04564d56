package dev.segcam.cam;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.Normalization;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The CAM steps after the backward: per layer, the method's channel weights and map, the bilinear
 * upsample to the input and the normalisation, then one {@link CamResult} per (image, target,
 * layer).
 */
final class CamMaps {
  private CamMaps() {}

  /**
   * The maps of every (image, target, layer) of a seeded pass from its layer gradients, image-major
   * (i, t, layer).
   */
  static List<CamResult> assemble(
      CamBackend backend,
      Normalization normalization,
      Explainer.Seeded s,
      Map<String, CamTensor> grads,
      CamMethod method) {
    CamBackend.Forward fwd = s.fwd();
    List<Target> targets = s.targets();
    List<String> lays = s.layers();
    float[] scores = s.scores();
    LabelMap[] predicted = s.predicted();
    int n = s.n();
    int k = s.k();
    int inH = s.inH();
    int inW = s.inW();
    CamResult[][][] out = new CamResult[n][k][lays.size()];
    for (int li = 0; li < lays.size(); li++) {
      String layer = lays.get(li);
      CamTensor acts = fwd.value(layer);
      CamTensor g = grads.get(layer);
      int[] d = Explainer.nhwc(acts.shape(), "layer '" + layer + "'");
      CamTensor w = method.weights(backend, acts, g);
      try (CamTensor map = method.map(backend, acts, g, w);
          CamTensor up = backend.resizeBilinear(map, inH, inW);
          CamTensor norm = backend.normalize(up, normalization)) {
        float[] wv = w == null ? null : w.toHost().data();
        float[] mv = map.toHost().data();
        float[] uv = up.toHost().data();
        float[] nv = norm.toHost().data();
        int hw = d[1] * d[2];
        int big = inH * inW;
        int ch = d[3];
        for (int i = 0; i < n; i++) {
          for (int t = 0; t < k; t++) {
            int r = t * n + i;
            out[i][t][li] =
                new CamResult(
                    i,
                    t,
                    targets.get(t),
                    layer,
                    method,
                    scores[r],
                    slice(mv, r * hw, Shape.of(d[1], d[2])),
                    wv == null ? null : Arrays.copyOfRange(wv, r * ch, (r + 1) * ch),
                    slice(uv, r * big, Shape.of(inH, inW)),
                    slice(nv, r * big, Shape.of(inH, inW)),
                    predicted[i]);
          }
        }
      } finally {
        if (w != null) {
          w.close();
        }
      }
    }
    List<CamResult> list = new ArrayList<>(n * k * lays.size());
    for (CamResult[][] a : out) {
      for (CamResult[] b : a) {
        list.addAll(List.of(b));
      }
    }
    return list;
  }

  // results image-major (i, t, layer), empty[t * n + i] -> the same list, empty rows zeroed
  static List<CamResult> zeroEmpty(List<CamResult> r, boolean[] empty, int n) {
    List<CamResult> out = new ArrayList<>(r.size());
    for (int j = 0; j < r.size(); j++) {
      CamResult c = r.get(j);
      if (!empty[c.targetIndex() * n + c.image()]) {
        out.add(c);
        continue;
      }
      // whatever the method made of a zero gradient (0, or 0/0 for Grad-CAM++) is replaced
      out.add(
          new CamResult(
              c.image(),
              c.targetIndex(),
              c.target(),
              c.layer(),
              c.method(),
              Float.NaN,
              zeros(c.rawMap().shape()),
              c.weights() == null ? null : new float[c.weights().length],
              zeros(c.upsampled().shape()),
              zeros(c.heatmap().shape()),
              c.predicted()));
    }
    return out;
  }

  private static FloatTensor zeros(Shape s) {
    return new FloatTensor(s, new float[s.size()]);
  }

  private static FloatTensor slice(float[] v, int off, Shape s) {
    return new FloatTensor(s, Arrays.copyOfRange(v, off, off + s.size()));
  }
}
