package dev.segcam.testing;

import dev.segcam.backend.onednn.OneDnnProbe;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The condition behind {@link RequiresOneDnn}: the JVM-wide oneDNN load probe, evaluated once. */
public final class OneDnnCondition implements ExecutionCondition {
  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    OneDnnProbe.Status s = OneDnnProbe.status();
    if (s.available()) {
      return ConditionEvaluationResult.enabled(s.describe());
    }
    if (Boolean.getBoolean("segcam.onednn.required")) {
      return ConditionEvaluationResult.enabled(
          "segcam.onednn.required is set: running although " + s.describe());
    }
    return ConditionEvaluationResult.disabled(s.describe());
  }
}
