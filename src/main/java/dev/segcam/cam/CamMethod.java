package dev.segcam.cam;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;

/**
 * How a heatmap is formed from a layer's activations A (N,h,w,C) and the score's gradients g =
 * dS/dA (N*K,h,w,C). This is the one hook a method overrides, as in pytorch-grad-cam: channel
 * methods form weights a (N*K,C) and share the map ReLU(sum_c a_c A_c); element-wise methods
 * (HiResCAM, LayerCAM) have no per-channel weights and form the map from g and A directly.
 */
public enum CamMethod {
  /** Seg-Grad-CAM / Grad-CAM: a_c = mean over the layer's pixels of g_c. */
  GRAD_CAM {
    @Override
    CamTensor weights(CamBackend b, CamTensor acts, CamTensor grads) {
      return b.channelMean(grads);
    }
  },

  /**
   * Grad-CAM++ in closed form from first-order gradients: alpha = g^2 / (2 g^2 + sum_uv(A) g^3 +
   * eps) (0 where g = 0), a_c = sum_uv ReLU(g) alpha.
   */
  GRAD_CAM_PLUS_PLUS {
    @Override
    CamTensor weights(CamBackend b, CamTensor acts, CamTensor grads) {
      return b.gradCamPlusPlusWeights(acts, grads);
    }
  },

  /** HiResCAM: ReLU(sum_c g_c * A_c), element-wise, so it is faithful to the score. */
  HIRES_CAM(false),

  /** XGrad-CAM: a_c = sum_uv(g_c A_c) / (sum_uv A_c + eps). */
  XGRAD_CAM {
    @Override
    CamTensor weights(CamBackend b, CamTensor acts, CamTensor grads) {
      return b.xGradCamWeights(acts, grads);
    }
  },

  /** LayerCAM: ReLU(sum_c ReLU(g_c) * A_c), element-wise. */
  LAYER_CAM(true);

  /** Element-wise methods: whether ReLU(g) replaces g; null for channel-weight methods. */
  private final Boolean elementwiseReluGrad;

  CamMethod() {
    this(null);
  }

  CamMethod(Boolean elementwiseReluGrad) {
    this.elementwiseReluGrad = elementwiseReluGrad;
  }

  // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C), or null for element-wise methods
  CamTensor weights(CamBackend b, CamTensor acts, CamTensor grads) {
    return null;
  }

  // acts (N,h,w,C), grads (N*K,h,w,C), weights (N*K,C) -> maps (N*K,h,w)
  CamTensor map(CamBackend b, CamTensor acts, CamTensor grads, CamTensor weights) {
    if (elementwiseReluGrad != null) {
      return b.elementwiseSumRelu(acts, grads, elementwiseReluGrad);
    }
    return b.weightedSumRelu(acts, weights);
  }
}
