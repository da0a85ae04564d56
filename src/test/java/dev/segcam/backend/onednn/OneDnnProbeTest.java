package dev.segcam.backend.onednn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import org.junit.jupiter.api.Test;

/** The load probe, the context's primitive cache and its lifetime. */
class OneDnnProbeTest {

  @Test
  void loadsFromMavensNativeJarOnLinuxX86() {
    assumeTrue(
        System.getProperty("os.name").startsWith("Linux")
            && System.getProperty("os.arch").matches("amd64|x86_64"),
        "the native jar in the pom is linux-x86_64");
    OneDnnProbe.Status s = OneDnnProbe.status();
    assertTrue(s.available(), s.describe());
    assertTrue(s.version().startsWith("3."), s.describe());
    assertNotNull(s.isa());
    assertTrue(s.threads() >= 1);
    assertSame(s, OneDnnProbe.status(), "probed once per JVM");
    System.out.println(s.describe());
  }

  @Test
  void unavailableStatusSaysWhyInOneLine() {
    OneDnnProbe.Status s =
        new OneDnnProbe.Status(false, "no jnidnnl … libdnnl.so.3", null, null, 0);
    assertEquals("oneDNN unavailable: no jnidnnl … libdnnl.so.3", s.describe());
  }

  @Test
  @dev.segcam.testing.RequiresOneDnn
  void contextCachesOnePrimitivePerOpAndShapeAndClosesThem() {
    float[] f = new float[3 * 3 * 2 * 4];
    java.util.Arrays.fill(f, 0.25f);
    Op.Conv2D op =
        new Op.Conv2D(new FloatTensor(Shape.of(3, 3, 2, 4), f), null, 1, 1, 1, 1, Padding.SAME);
    OneDnnContext ctx = OneDnnContext.open();
    try {
      OneDnnConv a = OneDnnConv.conv2d(ctx, op, Shape.of(1, 8, 8, 2));
      assertSame(a, OneDnnConv.conv2d(ctx, op, Shape.of(1, 8, 8, 2)));
      OneDnnConv b = OneDnnConv.conv2d(ctx, op, Shape.of(2, 8, 8, 2));
      assertNotSame(a, b, "a new batch size is a new shape");
      assertEquals(2, ctx.cachedCount());
      assertTrue(a.implementation().length() > 0);
      System.out.println("conv 3x3 2->4 runs on " + a.implementation());
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> a.run(new float[7]));
      assertTrue(e.getMessage().contains("7 values"), e.getMessage());
    } finally {
      ctx.close();
    }
    ctx.close(); // idempotent
    assertThrows(
        IllegalStateException.class, () -> OneDnnConv.conv2d(ctx, op, Shape.of(1, 8, 8, 2)));
  }
}
