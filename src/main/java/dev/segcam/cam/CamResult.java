package dev.segcam.cam;

import dev.segcam.backend.Normalization;
import dev.segcam.ir.FloatTensor;

/**
 * One heatmap: for image {@code image}, target {@code targets.get(targetIndex)} and {@code layer}.
 *
 * @param score the target's score S on this image
 * @param rawMap the map at the layer's resolution (h,w), after the ReLU, not normalised
 * @param weights the channel weights a (C), or null for element-wise methods (HiResCAM, LayerCAM)
 * @param upsampled rawMap bilinearly resized to the input image (H,W), not normalised
 * @param heatmap upsampled scaled to [0,1] by the explainer's {@link Normalization}
 * @param predicted the model's predicted label map of this image (shared by its results)
 */
public record CamResult(
    int image,
    int targetIndex,
    Target target,
    String layer,
    CamMethod method,
    float score,
    FloatTensor rawMap,
    float[] weights,
    FloatTensor upsampled,
    FloatTensor heatmap,
    LabelMap predicted) {}
