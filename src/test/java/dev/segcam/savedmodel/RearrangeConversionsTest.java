package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.Slicing;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The import-time rewrites of {@link RearrangeConversions} and {@link DilationConversions}: shapes
 * and refusals (their values against TensorFlow are KerasZooTest's).
 */
class RearrangeConversionsTest {
  @Test
  void mirrorPadSlicesHaveThePaddedSizes() {
    // REFLECT (2, 3) on H of 6; SYMMETRIC would allow 6, REFLECT at most 5
    List<RearrangeConversions.MirrorStep> steps =
        RearrangeConversions.mirrorPad(
            new int[] {-1, 6, 5, 2}, new int[] {0, 0, 2, 3, 0, 0, 0, 0}, "REFLECT");
    assertEquals(1, steps.size());
    assertEquals(1, steps.get(0).axis());
    Shape x = Shape.of(2, 6, 5, 2);
    List<Op.StridedSlice> parts = steps.get(0).parts();
    assertEquals(Shape.of(2, 2, 5, 2), Slicing.outputShape(parts.get(0), x));
    assertNull(parts.get(1));
    assertEquals(Shape.of(2, 3, 5, 2), Slicing.outputShape(parts.get(2), x));
    // SYMMETRIC by the whole size: the first part runs down to element 0 (the end mask)
    Op.StridedSlice all =
        RearrangeConversions.mirrorPad(
                new int[] {-1, 4, 3, 1}, new int[] {0, 0, 0, 0, 3, 0, 0, 0}, "SYMMETRIC")
            .get(0)
            .parts()
            .get(0);
    assertEquals(Shape.of(1, 4, 3, 1), Slicing.outputShape(all, Shape.of(1, 4, 3, 1)));
  }

  @Test
  void mirrorPadRefusesWhatTensorFlowRefuses() {
    int[] dims = {-1, 4, 4, 3};
    assertThrows(
        IllegalArgumentException.class,
        () -> RearrangeConversions.mirrorPad(dims, new int[] {0, 0, 4, 0, 0, 0, 0, 0}, "REFLECT"));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            RearrangeConversions.mirrorPad(dims, new int[] {0, 0, 5, 0, 0, 0, 0, 0}, "SYMMETRIC"));
    assertThrows(
        IllegalArgumentException.class,
        () -> RearrangeConversions.mirrorPad(dims, new int[] {1, 1, 0, 0, 0, 0, 0, 0}, "REFLECT"));
    IllegalArgumentException mode =
        assertThrows(
            IllegalArgumentException.class,
            () -> RearrangeConversions.mirrorPad(dims, new int[8], "CONSTANT"));
    assertTrue(mode.getMessage().contains("CONSTANT"), mode.getMessage());
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                RearrangeConversions.mirrorPad(
                    new int[] {-1, -1, 4, 3}, new int[] {0, 0, 1, 1, 0, 0, 0, 0}, "REFLECT"));
    assertTrue(unknown.getMessage().contains("image's size"), unknown.getMessage());
  }

  @Test
  void depthToSpaceIsReshapeTransposeReshape() {
    List<Op> ops = RearrangeConversions.depthToSpace(new int[] {-1, 5, 6, 12}, 2, "NHWC");
    assertEquals(new Op.Reshape(Shape.of(5, 6, 2, 6)), ops.get(0));
    assertEquals(new Op.Transpose(List.of(0, 1, 3, 2, 4)), ops.get(1));
    assertEquals(new Op.Reshape(Shape.of(10, 12, 3)), ops.get(2));
    assertThrows(
        IllegalArgumentException.class,
        () -> RearrangeConversions.depthToSpace(new int[] {-1, 5, 6, 10}, 2, "NHWC"));
    assertThrows(
        IllegalArgumentException.class,
        () -> RearrangeConversions.depthToSpace(new int[] {-1, 5, 6, 12}, 2, "NCHW"));
  }

  @Test
  void dilatedConvCropCountsFromTheBack() {
    Op.StridedSlice c = DilationConversions.crop(new int[] {0, 1, 0, 0});
    assertEquals(Shape.of(2, 7, 9, 4), Slicing.outputShape(c, Shape.of(2, 8, 9, 4)));
    assertArrayEquals(new int[] {0, -1, 0, 0}, c.end());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            DilationConversions.spatial(
                Cst.ints(new int[] {2, 2}, new double[] {0, -1, 0, 0}), "crops"));
    assertThrows(
        IllegalArgumentException.class,
        () -> DilationConversions.block(Cst.ints(new int[] {2}, new double[] {0, 2})));
  }
}
