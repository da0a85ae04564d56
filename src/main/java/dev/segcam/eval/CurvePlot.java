package dev.segcam.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.Locale;

/** A PNG-ready plot of a deletion and an insertion curve: score (0..1) over fraction changed. */
public final class CurvePlot {
  static final int WIDTH = 480;
  static final int HEIGHT = 320;
  private static final int LEFT = 56;
  private static final int RIGHT = 16;
  private static final int TOP = 36;
  private static final int BOTTOM = 44;
  static final Color DELETION = new Color(0xD62728);
  static final Color INSERTION = new Color(0x1F77B4);

  private CurvePlot() {}

  /** The two curves of one map, with their AUCs in the legend. */
  public static BufferedImage plot(String title, Faithfulness.Curves c) {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
    BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, WIDTH, HEIGHT);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
      int pw = WIDTH - LEFT - RIGHT;
      int ph = HEIGHT - TOP - BOTTOM;
      g.setColor(new Color(0xE0E0E0));
      for (int i = 0; i <= 4; i++) {
        int y = TOP + ph - ph * i / 4;
        int x = LEFT + pw * i / 4;
        g.drawLine(LEFT, y, LEFT + pw, y);
        g.drawLine(x, TOP, x, TOP + ph);
      }
      g.setColor(Color.BLACK);
      g.drawRect(LEFT, TOP, pw, ph);
      for (int i = 0; i <= 4; i++) {
        String v = String.format(Locale.ROOT, "%.2f", i / 4.0);
        g.drawString(v, LEFT - 30, TOP + ph - ph * i / 4 + 4);
        g.drawString(v, LEFT + pw * i / 4 - 10, TOP + ph + 14);
      }
      g.drawString("fraction of pixels removed / inserted (most salient first)", LEFT, HEIGHT - 10);
      g.drawString(title, LEFT, 14);
      g.drawString("class probability over the region", LEFT, 28);
      curve(g, c.deletion(), DELETION, pw, ph);
      curve(g, c.insertion(), INSERTION, pw, ph);
      legend(g, DELETION, "deletion AUC " + fmt(c.deletion().auc()), 0);
      legend(g, INSERTION, "insertion AUC " + fmt(c.insertion().auc()), 1);
    } finally {
      g.dispose();
    }
    return img;
  }

  private static void curve(Graphics2D g, Faithfulness.Curve c, Color col, int pw, int ph) {
    g.setColor(col);
    g.setStroke(new BasicStroke(2f));
    double[] x = c.fractions();
    double[] y = c.scores();
    for (int i = 0; i + 1 < x.length; i++) {
      if (Double.isNaN(y[i]) || Double.isNaN(y[i + 1])) {
        continue;
      }
      g.drawLine(px(x[i], pw), py(y[i], ph), px(x[i + 1], pw), py(y[i + 1], ph));
    }
    g.setStroke(new BasicStroke(1f));
  }

  private static void legend(Graphics2D g, Color col, String text, int row) {
    int x = WIDTH - RIGHT - 170;
    int y = TOP + 16 + row * 16;
    g.setColor(col);
    g.fillRect(x, y - 8, 14, 4);
    g.setColor(Color.BLACK);
    g.drawString(text, x + 20, y);
  }

  private static int px(double f, int pw) {
    return LEFT + (int) Math.round(f * pw);
  }

  private static int py(double v, int ph) {
    double c = Math.max(0, Math.min(1, v));
    return TOP + ph - (int) Math.round(c * ph);
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }
}
