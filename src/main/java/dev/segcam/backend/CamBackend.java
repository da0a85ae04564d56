package dev.segcam.backend;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The steps the CAM pipeline needs from an engine: forward, data-gradient backward, and the small
 * kernels that turn activations and gradients into heatmaps. {@code dev.segcam.cam.Explainer} is
 * written once over this interface; the CPU implementation runs the pure-Java engine, a CUDA one
 * keeps every tensor on the device.
 *
 * <p>Batch convention for K targets on N images: activations have N rows, while seeds, gradients,
 * weights and maps have N*K rows, target-major: row r = k*N + n belongs to target k = r / N and
 * image n = r % N (so one target's rows line up with the N images, as in CpuBackward). Ops that
 * take both broadcast the activations over the K targets.
 *
 * <p>Every tensor an op returns belongs to the caller, who closes it; values read from a {@link
 * Forward} belong to the pass. Inputs are never modified.
 */
public interface CamBackend extends AutoCloseable {
  /** Short name for messages ("cpu", "cuda:0"). */
  String name();

  Graph graph();

  /**
   * Whether the backend's tensors live in host memory, so that data the caller already holds on the
   * host (label maps, region masks) is used as it is rather than rebuilt by the backend.
   */
  default boolean onHost() {
    return false;
  }

  /** Moves a host tensor to the backend. */
  CamTensor upload(FloatTensor host);

  /**
   * Runs the model on images (N,H,W,C) fed to the graph input {@code input}. The pass keeps the
   * values of {@code keep} readable and whatever a backward needs whose seeds and layers are among
   * {@code keep} (a backend may drop every other value, as the CPU backend does: {@link
   * BackwardPlan#valuesFor}); a backward down to the graph input needs the input in {@code keep}.
   */
  Forward forward(String input, CamTensor images, Set<String> keep);

  /** One forward pass; closing it frees its values. */
  interface Forward extends AutoCloseable {
    /** The value of a kept node (owned by the pass: do not close it). */
    CamTensor value(String node);

    /**
     * Data gradients of sum(seed * node) over all seeds at each of {@code layers}. Seeds have N*K
     * rows while the pass has N; the result has N*K rows per layer and is owned by the caller.
     */
    Map<String, CamTensor> backward(Map<String, CamTensor> seeds, List<String> layers);

    /**
     * {@link #backward} with guided ReLUs (guided backpropagation): a ReLU passes the gradient only
     * where its input and the incoming gradient are both positive. Asking for the graph input as a
     * layer gives the guided input gradient.
     *
     * @throws CamStepException on a backend that has no guided rule
     */
    default Map<String, CamTensor> guidedBackward(
        Map<String, CamTensor> seeds, List<String> layers) {
      throw new CamStepException("this backend has no guided backpropagation");
    }

    @Override
    void close();
  }

  /** A pass whose plain and guided backward are one walk with a guided flag. */
  abstract class GuidedPass implements Forward {
    @Override
    public final Map<String, CamTensor> backward(
        Map<String, CamTensor> seeds, List<String> layers) {
      return backward(seeds, layers, false);
    }

    @Override
    public final Map<String, CamTensor> guidedBackward(
        Map<String, CamTensor> seeds, List<String> layers) {
      return backward(seeds, layers, true);
    }

    /** {@link #backward(Map, List)}, or {@link #guidedBackward} when {@code guided}. */
    protected abstract Map<String, CamTensor> backward(
        Map<String, CamTensor> seeds, List<String> layers, boolean guided);
  }

  // values (N,oh,ow,C), masks (N*K,oh,ow), classes (N*K), modes (N*K)
  //   -> seed (N*K,oh,ow,C) = dS_r/dvalues, scores[r] = S_r
  /** The masked score of each row and its gradient with respect to the node's values. */
  CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores);

  // values (N,h,w,C) -> labels (N,h,w), the class index as float
  /**
   * The predicted label map: argmax over the channels per pixel (lowest index on ties; one channel
   * is a sigmoid: 1 where the logit is &gt; 0), computed where the values live so that only the
   * labels come back. The default runs the twin on the host.
   */
  default CamTensor argmaxChannels(CamTensor values) {
    FloatTensor v = values.toHost();
    Shape s = v.shape();
    int c = s.dim(s.rank() - 1);
    int p = c == 0 ? 0 : s.size() / c;
    float[] labels = new float[p];
    dev.segcam.kernels.CpuKernels.argmax_channels(labels, v.data(), p, c);
    int[] dims = java.util.Arrays.copyOf(s.dims(), s.rank() - 1);
    return upload(new FloatTensor(Shape.of(dims), labels));
  }

  // labels (N,h,w), spec (R,6) -> masks (R,h,w)
  /**
   * The target rows' region masks built where the label maps live (see {@code region_mask} in
   * kernels/seed.cu: per row kind ZERO, PREDICTED or BOX, its class and box), so that on a device
   * only the small spec travels. The default runs the twin on the host.
   */
  default CamTensor regionMasks(CamTensor labels, int[] spec) {
    FloatTensor l = labels.toHost();
    Shape s = l.shape();
    int rows = spec.length / dev.segcam.kernels.CpuKernels.REGION_SPEC;
    float[] m = new float[rows * s.dim(1) * s.dim(2)];
    dev.segcam.kernels.CpuKernels.region_mask(
        m, l.data(), spec, rows, s.dim(0), s.dim(1), s.dim(2));
    return upload(new FloatTensor(Shape.of(rows, s.dim(1), s.dim(2)), m));
  }

  // grads (R,h,w,C) -> weights (R,C)
  CamTensor channelMean(CamTensor grads);

  // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
  /** Grad-CAM++ weights in closed form from first-order gradients (pytorch-grad-cam's form). */
  CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads);

  // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
  /** XGrad-CAM weights: sum_uv(g*A) / (sum_uv A + eps). */
  CamTensor xGradCamWeights(CamTensor acts, CamTensor grads);

  // acts (N,h,w,C), weights (N*K,C) -> maps (N*K,h,w)
  CamTensor weightedSumRelu(CamTensor acts, CamTensor weights);

  // acts (N,h,w,C), grads (N*K,h,w,C) -> maps (N*K,h,w) = ReLU(sum_c g' * A), g' = ReLU(g) if
  // reluGrads (LayerCAM) else g (HiResCAM)
  CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads);

  // maps (R,h,w) -> (R,outH,outW), half-pixel centres (TF halfPixelCenters, OpenCV INTER_LINEAR)
  CamTensor resizeBilinear(CamTensor maps, int outH, int outW);

  // maps (R,H,W) -> (R,H,W) in [0,1]
  CamTensor normalize(CamTensor maps, Normalization norm);

  @Override
  void close();
}
