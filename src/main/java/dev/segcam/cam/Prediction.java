package dev.segcam.cam;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.ir.FloatTensor;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One forward pass of {@link Explainer#predict}, kept open: the predicted label map of each image,
 * and the pass that {@link Explainer#explain(Prediction, List, List, CamMethod)} and {@link
 * GuidedGradCam} reuse, so one batch costs one forward. Closing it frees the pass; not thread-safe
 * (as the explainer).
 */
public final class Prediction implements AutoCloseable {
  private final Explainer owner;
  private final FloatTensor images;
  private final CamTensor uploaded;
  private final CamBackend.Forward fwd;
  private final Set<String> kept;
  private final List<LabelMap> labels;
  private boolean closed;

  Prediction(
      Explainer owner,
      FloatTensor images,
      CamTensor uploaded,
      CamBackend.Forward fwd,
      Set<String> kept,
      List<LabelMap> labels) {
    this.owner = owner;
    this.images = images;
    this.uploaded = uploaded;
    this.fwd = fwd;
    this.kept = Set.copyOf(kept);
    this.labels = List.copyOf(labels);
  }

  /** The predicted label map of each image, in batch order. */
  public List<LabelMap> labels() {
    return labels;
  }

  LabelMap[] labelArray() {
    return labels.toArray(new LabelMap[0]);
  }

  /** The images the forward ran on. */
  public FloatTensor images() {
    return images;
  }

  /** The images, after checking the prediction is open, the explainer's own, and kept layers. */
  FloatTensor checkUsable(Explainer ex, List<String> layers) {
    if (closed) {
      throw new CamException("the prediction is closed");
    }
    if (ex != owner) {
      throw new CamException("the prediction belongs to another explainer");
    }
    if (layers != null) {
      for (String l : layers) {
        if (l != null && !kept.contains(l)) {
          throw new CamException(
              "layer '" + l + "' was not kept by predict; pass it to predict(images, layers)");
        }
      }
    }
    return images;
  }

  /** The pass, as a view whose close leaves it open. */
  CamBackend.Forward view() {
    return new CamBackend.Forward() {
      @Override
      public CamTensor value(String node) {
        return fwd.value(node);
      }

      @Override
      public Map<String, CamTensor> backward(Map<String, CamTensor> seeds, List<String> layers) {
        return fwd.backward(seeds, layers);
      }

      @Override
      public Map<String, CamTensor> guidedBackward(
          Map<String, CamTensor> seeds, List<String> layers) {
        return fwd.guidedBackward(seeds, layers);
      }

      @Override
      public void close() {}
    };
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      fwd.close();
    } finally {
      uploaded.close();
    }
  }
}
