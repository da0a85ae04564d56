package dev.segcam.cam;

import dev.segcam.backend.CamTensor;
import dev.segcam.backend.HostCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A test backend that runs one fixed tiny segmentation net by hand, so the pipeline can be tested
 * without the CPU engine: image (N,H,W,3) -> feat = 1x1 conv 3->F (+bias) -> relu -> logits = 1x1
 * conv F->C (+bias) -> probs = softmax; plus a side branch "side" = tanh(feat) that feeds nothing
 * the score uses. Forward and backward are written out per pixel; it counts its passes.
 */
final class PixelwiseNetBackend extends HostCamBackend {
  final int f;
  final int c;
  final float[] w1; // (3,F)
  final float[] b1; // (F)
  final float[] w2; // (F,C)
  final float[] b2; // (C)
  final Graph graph;
  final boolean softmaxOutput;
  int forwards;
  int backwards;

  PixelwiseNetBackend(int f, int c, boolean softmaxOutput, long seed) {
    this.f = f;
    this.c = c;
    this.softmaxOutput = softmaxOutput;
    Random rnd = new Random(seed);
    w1 = rand(rnd, 3 * f);
    b1 = rand(rnd, f);
    w2 = rand(rnd, f * c);
    b2 = rand(rnd, c);
    Graph.Builder b = Graph.builder();
    b.add("image", new Op.Input(Shape.of(-1, -1, -1, 3)));
    b.add(
        "feat",
        new Op.Conv2D(
            new FloatTensor(Shape.of(1, 1, 3, f), w1),
            new FloatTensor(Shape.of(f), b1),
            1,
            1,
            1,
            1,
            Padding.SAME),
        "image");
    b.add("relu", new Op.Activation(Op.ActivationKind.RELU, 0f), "feat");
    b.add("side", new Op.Activation(Op.ActivationKind.TANH, 0f), "feat");
    b.add(
        "logits",
        new Op.Conv2D(
            new FloatTensor(Shape.of(1, 1, f, c), w2),
            new FloatTensor(Shape.of(c), b2),
            1,
            1,
            1,
            1,
            Padding.SAME),
        "relu");
    if (softmaxOutput) {
      b.add("probs", new Op.Softmax(), "logits");
      b.output("out", "probs");
    } else {
      b.output("out", "logits");
    }
    b.output("side", "side");
    graph = b.build();
  }

  static float[] rand(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  @Override
  public String name() {
    return "test-pixelwise";
  }

  @Override
  public Graph graph() {
    return graph;
  }

  @Override
  public Forward forward(String input, CamTensor images, Set<String> keep) {
    forwards++;
    FloatTensor x = images.toHost();
    Map<String, FloatTensor> v = values(x);
    int[] d = x.shape().dims();
    float[] feat = v.get("feat").data();
    float[] probs = v.get("logits").data().clone();
    int hwAll = d[0] * d[1] * d[2];
    for (int p = 0; p < hwAll; p++) {
      softmaxInPlace(probs, p * c, c);
    }
    return forwardOver(v, d, feat, probs);
  }

  private static void softmaxInPlace(float[] z, int off, int n) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      max = Math.max(max, z[off + i]);
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
      sum += Math.exp(z[off + i] - max);
    }
    for (int i = 0; i < n; i++) {
      z[off + i] = (float) (Math.exp(z[off + i] - max) / sum);
    }
  }

  /** Every node's value for images x, by hand. */
  Map<String, FloatTensor> values(FloatTensor x) {
    int[] d = x.shape().dims();
    int px = d[0] * d[1] * d[2];
    float[] xv = x.data();
    float[] feat = new float[px * f];
    float[] relu = new float[px * f];
    float[] side = new float[px * f];
    float[] logits = new float[px * c];
    float[] probs = new float[px * c];
    for (int p = 0; p < px; p++) {
      for (int j = 0; j < f; j++) {
        float s = b1[j];
        for (int i = 0; i < 3; i++) {
          s += xv[p * 3 + i] * w1[i * f + j];
        }
        feat[p * f + j] = s;
        relu[p * f + j] = Math.max(s, 0f);
        side[p * f + j] = (float) Math.tanh(s);
      }
      float max = Float.NEGATIVE_INFINITY;
      for (int k = 0; k < c; k++) {
        float s = b2[k];
        for (int j = 0; j < f; j++) {
          s += relu[p * f + j] * w2[j * c + k];
        }
        logits[p * c + k] = s;
        max = Math.max(max, s);
      }
      double sum = 0;
      for (int k = 0; k < c; k++) {
        sum += Math.exp(logits[p * c + k] - max);
      }
      for (int k = 0; k < c; k++) {
        probs[p * c + k] = (float) (Math.exp(logits[p * c + k] - max) / sum);
      }
    }
    Map<String, FloatTensor> v = new HashMap<>();
    v.put("image", x);
    v.put("feat", new FloatTensor(Shape.of(d[0], d[1], d[2], f), feat));
    v.put("relu", new FloatTensor(Shape.of(d[0], d[1], d[2], f), relu));
    v.put("side", new FloatTensor(Shape.of(d[0], d[1], d[2], f), side));
    v.put("logits", new FloatTensor(Shape.of(d[0], d[1], d[2], c), logits));
    if (softmaxOutput) {
      v.put("probs", new FloatTensor(Shape.of(d[0], d[1], d[2], c), probs));
    }
    return v;
  }

  private Forward forwardOver(Map<String, FloatTensor> v, int[] d, float[] feat, float[] probs) {
    return new Forward() {
      @Override
      public CamTensor value(String node) {
        return CamTensor.host(v.get(node));
      }

      @Override
      public Map<String, CamTensor> backward(Map<String, CamTensor> seeds, List<String> layers) {
        backwards++;
        int n = d[0];
        int hw = d[1] * d[2];
        int rows = seeds.values().iterator().next().shape().dim(0);
        float[] dl = new float[rows * hw * c];
        if (seeds.containsKey("logits")) {
          float[] s = seeds.get("logits").toHost().data();
          System.arraycopy(s, 0, dl, 0, dl.length);
        }
        if (seeds.containsKey("probs")) {
          float[] s = seeds.get("probs").toHost().data();
          for (int r = 0; r < rows; r++) {
            int img = r % n;
            for (int q = 0; q < hw; q++) {
              int pb = (img * hw + q) * c;
              int sb = (r * hw + q) * c;
              double dot = 0;
              for (int j = 0; j < c; j++) {
                dot += s[sb + j] * probs[pb + j];
              }
              for (int j = 0; j < c; j++) {
                dl[sb + j] += (float) (probs[pb + j] * (s[sb + j] - dot));
              }
            }
          }
        }
        float[] dr = new float[rows * hw * f];
        float[] df = new float[rows * hw * f];
        float[] dx = new float[rows * hw * 3];
        for (int r = 0; r < rows; r++) {
          int img = r % n;
          for (int q = 0; q < hw; q++) {
            int rb = r * hw + q;
            int vb = img * hw + q;
            for (int j = 0; j < f; j++) {
              float s = 0;
              for (int kk = 0; kk < c; kk++) {
                s += dl[rb * c + kk] * w2[j * c + kk];
              }
              dr[rb * f + j] = s;
              df[rb * f + j] = feat[vb * f + j] > 0 ? s : 0f;
            }
            for (int i = 0; i < 3; i++) {
              float s = 0;
              for (int j = 0; j < f; j++) {
                s += df[rb * f + j] * w1[i * f + j];
              }
              dx[rb * 3 + i] = s;
            }
          }
        }
        Map<String, CamTensor> out = new LinkedHashMap<>();
        for (String l : layers) {
          float[] g =
              switch (l) {
                case "relu" -> dr;
                case "feat" -> df;
                case "image" -> dx;
                case "logits" -> dl;
                default -> throw new IllegalArgumentException("test net has no gradient at " + l);
              };
          int ch = g.length / (rows * hw);
          out.put(l, CamTensor.host(new FloatTensor(Shape.of(rows, d[1], d[2], ch), g)));
        }
        return out;
      }

      @Override
      public void close() {}
    };
  }
}
