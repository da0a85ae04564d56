package dev.segcam.video;

import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;
import java.awt.image.BufferedImage;

/** Conversions between packed rgb24 bytes, RGB images and float tensors, and map resizing. */
public final class Frames {
  private Frames() {}

  // rgb (H,W,3) bytes -> TYPE_INT_RGB image (W,H)
  public static BufferedImage fromRgb24(byte[] rgb, int width, int height) {
    int[] px = new int[width * height];
    for (int p = 0, q = 0; p < px.length; p++, q += 3) {
      px[p] = ((rgb[q] & 0xFF) << 16) | ((rgb[q + 1] & 0xFF) << 8) | (rgb[q + 2] & 0xFF);
    }
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    img.setRGB(0, 0, width, height, px, 0, width);
    return img;
  }

  // image (W,H) -> rgb (H,W,3) bytes, written into out (reused between frames)
  public static void toRgb24(BufferedImage img, byte[] out, int[] scratch) {
    int w = img.getWidth();
    int h = img.getHeight();
    int[] px = img.getRGB(0, 0, w, h, scratch, 0, w);
    for (int p = 0, q = 0; p < w * h; p++, q += 3) {
      out[q] = (byte) (px[p] >> 16);
      out[q + 1] = (byte) (px[p] >> 8);
      out[q + 2] = (byte) px[p];
    }
  }

  // image (W,H) -> float (OH,OW,3) in [0,1], bilinear with half-pixel centres (TF's resize)
  public static float[] toModelInput(BufferedImage img, int outH, int outW) {
    int w = img.getWidth();
    int h = img.getHeight();
    int[] px = img.getRGB(0, 0, w, h, null, 0, w);
    float[] f = new float[w * h * 3];
    for (int p = 0, q = 0; p < w * h; p++, q += 3) {
      f[q] = ((px[p] >> 16) & 0xFF) / 255f;
      f[q + 1] = ((px[p] >> 8) & 0xFF) / 255f;
      f[q + 2] = (px[p] & 0xFF) / 255f;
    }
    if (h == outH && w == outW) {
      return f;
    }
    float[] out = new float[outH * outW * 3];
    ResizeKernels.resize_bilinear_fwd(out, f, new ResizeDims(1, h, w, 3, outH, outW, false, true));
    return out;
  }

  // map (H,W) -> (OH,OW), bilinear with half-pixel centres
  public static float[] resizeMap(float[] map, int h, int w, int outH, int outW) {
    if (h == outH && w == outW) {
      return map;
    }
    float[] out = new float[outH * outW];
    ResizeKernels.resize_bilinear_fwd(
        out, map, new ResizeDims(1, h, w, 1, outH, outW, false, true));
    return out;
  }

  /** Images side by side, left to right (all the same height). */
  public static BufferedImage tile(BufferedImage[] parts) {
    if (parts.length == 1) {
      return parts[0];
    }
    int h = parts[0].getHeight();
    int w = parts[0].getWidth();
    BufferedImage out = new BufferedImage(w * parts.length, h, BufferedImage.TYPE_INT_RGB);
    int[] px = new int[w * h];
    for (int i = 0; i < parts.length; i++) {
      parts[i].getRGB(0, 0, w, h, px, 0, w);
      out.setRGB(i * w, 0, w, h, px, 0, w);
    }
    return out;
  }
}
