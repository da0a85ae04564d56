package dev.segcam.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every {@link CamBackend} method, those with a default body included, is passed on by {@link
 * ForwardingCamBackend}: a decorator that missed one (as the CLI's timing wrapper once missed
 * regionMasks) would silently run the interface's host default instead of the backend's kernel.
 */
class ForwardingCamBackendTest {
  @Test
  void forwardsEveryMethodOfTheInterface() {
    List<String> missing = new ArrayList<>();
    for (Method m : CamBackend.class.getMethods()) {
      if (Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() != CamBackend.class) {
        continue;
      }
      try {
        ForwardingCamBackend.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
      } catch (NoSuchMethodException e) {
        missing.add(m.getName());
      }
    }
    assertEquals(List.of(), missing, "CamBackend methods ForwardingCamBackend does not forward");
  }
}
