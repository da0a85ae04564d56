package dev.segcam.bench;

import java.nio.file.Path;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceMax;
import org.tensorflow.op.core.ReduceMin;
import org.tensorflow.op.image.ResizeBilinear;
import org.tensorflow.op.math.Mean;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * The TensorFlow-CPU peer of segcam's Seg-Grad-CAM: the SavedModel's graph extended with the whole
 * pipeline in TF ops, so that one Session.run does what segcam's Explainer does for one image and
 * one target:
 *
 * <pre>
 *   y = model(x)                         logits (1,H,W,K)
 *   S = sum(seed * y)                    seed = 1 at (i,j,c) for (i,j) in M, else 0
 *   G = dS/dA                            Graph.addGradients, A = the layer's activation (1,h,w,C)
 *   a = mean_{h,w} G                     (1,C)
 *   L = ReLU(sum_C a * A)                (1,h,w)
 *   U = ResizeBilinear(L, H, W)          half-pixel centres, as segcam's resize
 *   V = min((U - min U) / (max U - min U), 1), 0 when max == min   (segcam's per-map normalisation)
 *   P = argmax_K y                       the predicted label map segcam also returns
 * </pre>
 *
 * and every result is copied into Java arrays, as segcam's CamResult holds them.
 */
final class TfGradCam implements AutoCloseable {
  /** One run's results, host arrays. */
  record Maps(
      float score,
      float[] weights,
      float[] raw,
      float[] upsampled,
      float[] heatmap,
      long[] predicted) {}

  private final SavedModelBundle bundle;
  private final Session session;
  private final String inputOp;
  private final long[] inputShape;
  private final Output<TFloat32> score;
  private final Output<TFloat32> weights;
  private final Output<TFloat32> raw;
  private final Output<TFloat32> upsampled;
  private final Output<TFloat32> heatmap;
  private final Output<TInt64> predicted;
  private final int[] sizes;
  private final Output<TFloat32> logits;
  private final int classes;

  /**
   * @param seed (1,H,W,K) score seed (mask times one-hot class)
   * @param intraThreads TF's intra-op pool (the threads one kernel uses)
   * @param interThreads TF's inter-op pool (kernels run side by side)
   */
  TfGradCam(
      Path dir,
      String inputOp,
      String outputOp,
      String layerOp,
      float[] seed,
      int intraThreads,
      int interThreads) {
    this(dir, inputOp, outputOp, layerOp, 1, seed, intraThreads, interThreads);
  }

  /**
   * The same for a batch of images (the score S sums over the batch; the images do not mix, so each
   * image's gradient is its own score's): results hold the images one after the other.
   *
   * @param batch the input's batch size (replaces a free batch dimension of the model)
   * @param seed (batch,H,W,K) score seed
   */
  TfGradCam(
      Path dir,
      String inputOp,
      String outputOp,
      String layerOp,
      int batch,
      float[] seed,
      int intraThreads,
      int interThreads) {
    ConfigProto config =
        ConfigProto.newBuilder()
            .setIntraOpParallelismThreads(intraThreads)
            .setInterOpParallelismThreads(interThreads)
            .build();
    this.bundle =
        SavedModelBundle.loader(dir.toString()).withTags("serve").withConfigProto(config).load();
    this.session = bundle.session();
    this.inputOp = inputOp;
    Graph g = bundle.graph();
    @SuppressWarnings("unchecked")
    Output<TFloat32> y = (Output<TFloat32>) (Output<?>) g.outputOrThrow(outputOp);
    @SuppressWarnings("unchecked")
    Output<TFloat32> a = (Output<TFloat32>) (Output<?>) g.outputOrThrow(layerOp);
    @SuppressWarnings("unchecked")
    Output<TFloat32> x = (Output<TFloat32>) (Output<?>) g.outputOrThrow(inputOp);
    this.inputShape = x.shape().asArray();
    this.inputShape[0] = batch;
    long[] ys = y.shape().asArray();
    ys[0] = batch;
    int h = (int) ys[1];
    int w = (int) ys[2];
    this.sizes =
        new int[] {
          batch * (int) a.shape().get(3),
          batch * (int) (a.shape().get(1) * a.shape().get(2)),
          batch * h * w
        };
    if (seed.length != batch * h * w * (int) ys[3]) {
      throw new IllegalArgumentException(
          "seed has " + seed.length + " values, output " + y.shape());
    }
    Ops tf = Ops.create(g).withSubScope("gradcam");
    Operand<TFloat32> seedC = tf.withName("seed").constant(Shape.of(ys), DataBuffers.of(seed));
    Operand<TFloat32> s =
        tf.withName("score").reduceSum(tf.math.mul(y, seedC), tf.constant(new int[] {0, 1, 2, 3}));
    @SuppressWarnings("unchecked")
    Output<TFloat32> grad =
        (Output<TFloat32>)
            g.addGradients(
                    "gradcam_grad", new Output<?>[] {s.asOutput()}, new Output<?>[] {a}, null)[0];
    Operand<TFloat32> alpha =
        tf.withName("weights").math.mean(grad, tf.constant(new int[] {1, 2}), Mean.keepDims(true));
    Operand<TFloat32> map =
        tf.withName("raw")
            .nn
            .relu(
                tf.reduceSum(
                    tf.math.mul(a, alpha),
                    tf.constant(new int[] {3}),
                    org.tensorflow.op.core.ReduceSum.keepDims(true)));
    Operand<TFloat32> up =
        tf.withName("upsampled")
            .image
            .resizeBilinear(
                map,
                tf.constant(new int[] {h, w}),
                ResizeBilinear.alignCorners(false),
                ResizeBilinear.halfPixelCenters(true));
    Operand<TFloat32> lo =
        tf.reduceMin(up, tf.constant(new int[] {1, 2, 3}), ReduceMin.keepDims(true));
    Operand<TFloat32> hi =
        tf.reduceMax(up, tf.constant(new int[] {1, 2, 3}), ReduceMax.keepDims(true));
    Operand<TFloat32> norm =
        tf.withName("heatmap")
            .math
            .minimum(
                tf.math.divNoNan(tf.math.sub(up, lo), tf.math.sub(hi, lo)),
                tf.constant(Shape.of(), DataBuffers.of(new float[] {1f})));
    Operand<TInt64> pred = tf.withName("predicted").math.argMax(y, tf.constant(3));
    this.score = s.asOutput();
    this.logits = y;
    this.classes = (int) ys[3];
    this.weights = alpha.asOutput();
    this.raw = map.asOutput();
    this.upsampled = up.asOutput();
    this.heatmap = norm.asOutput();
    this.predicted = pred.asOutput();
  }

  /** Runs the whole pipeline on one image (1,H,W,3), NHWC flat. */
  Maps run(float[] image) {
    try (TFloat32 in = TFloat32.tensorOf(Shape.of(inputShape), DataBuffers.of(image, true, false));
        Result r =
            session
                .runner()
                .feed(inputOp, in)
                .fetch(score)
                .fetch(weights)
                .fetch(raw)
                .fetch(upsampled)
                .fetch(heatmap)
                .fetch(predicted)
                .run()) {
      float[] sc = new float[1];
      ((TFloat32) r.get(0)).copyTo(DataBuffers.of(sc, false, false));
      float[] wv = new float[sizes[0]];
      ((TFloat32) r.get(1)).copyTo(DataBuffers.of(wv, false, false));
      float[] rv = new float[sizes[1]];
      ((TFloat32) r.get(2)).copyTo(DataBuffers.of(rv, false, false));
      float[] uv = new float[sizes[2]];
      ((TFloat32) r.get(3)).copyTo(DataBuffers.of(uv, false, false));
      float[] hv = new float[sizes[2]];
      ((TFloat32) r.get(4)).copyTo(DataBuffers.of(hv, false, false));
      long[] pv = new long[sizes[2]];
      ((TInt64) r.get(5)).copyTo(DataBuffers.of(pv, false, false));
      return new Maps(sc[0], wv, rv, uv, hv, pv);
    }
  }

  /** The model's forward alone (logits fetched and copied out), in ms. */
  double forwardOnlyMs(float[] image) {
    long t0 = System.nanoTime();
    try (TFloat32 in = TFloat32.tensorOf(Shape.of(inputShape), DataBuffers.of(image, true, false));
        Result r = session.runner().feed(inputOp, in).fetch(logits).run()) {
      float[] y = new float[sizes[2] * classes];
      ((TFloat32) r.get(0)).copyTo(DataBuffers.of(y, false, false));
    }
    return (System.nanoTime() - t0) / 1e6;
  }

  @Override
  public void close() {
    bundle.close();
  }
}
