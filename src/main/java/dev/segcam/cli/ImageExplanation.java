package dev.segcam.cli;

import dev.segcam.cam.CamException;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.GuidedGradCam;
import dev.segcam.cam.LabelMap;
import dev.segcam.cam.Prediction;
import dev.segcam.cam.ScoreMode;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.image.Overlays;
import dev.segcam.image.Panels;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.video.VideoRun;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * One image of {@code segcam explain}: its targets, one forward and backward, then its PNGs,
 * panels, explain.json document and summary lines (README "segcam explain" names the files).
 */
final class ImageExplanation {
  private ImageExplanation() {}

  static Documents.ExplainImage explain(
      ExplainCommand cmd,
      ExplainCommand.Run run,
      Explainer ex,
      TimedCamBackend timed,
      Staging st,
      Path file,
      PrintWriter stdout) {
    long tImage = System.nanoTime();
    String name = file.getFileName().toString();
    String dir = ExplainCommand.stem(file);
    timed.reset();

    BufferedImage raw = Images.read(file);
    int[] origSize = {raw.getHeight(), raw.getWidth()};
    boolean resized = false;
    BufferedImage img = raw;
    int h = run.inH() > 0 ? run.inH() : raw.getHeight();
    int w = run.inW() > 0 ? run.inW() : raw.getWidth();
    if (h != raw.getHeight() || w != raw.getWidth()) {
      img = Images.resize(raw, w, h);
      resized = true;
      cmd.note(
          name
              + " is "
              + raw.getWidth()
              + "x"
              + raw.getHeight()
              + ", resized (bilinear) to the model input "
              + w
              + "x"
              + h
              + "; maps and overlays are at "
              + w
              + "x"
              + h
              + ", *.overlay.full.png and panel.*.full.png at the image's own size");
    }
    FloatTensor rgb = Images.toTensor(img);
    BufferedImage display = Images.toImage(rgb);
    FloatTensor tensor = run.inC() == 1 ? grey(rgb) : rgb;

    // one forward: the predicted classes pick the targets, then explain reuses the same pass
    List<CamResult> results;
    List<GuidedGradCam.Result> guidedResults = null;
    try (Prediction pred = ex.predict(tensor, run.layers())) {
      List<Target> targets = targets(cmd, run, pred.labels().get(0), name);

      if (cmd.guided) {
        guidedResults = GuidedGradCam.explain(ex, pred, targets, run.layers(), cmd.method);
        results = guidedResults.stream().map(GuidedGradCam.Result::cam).toList();
      } else {
        results = ex.explain(pred, targets, run.layers(), cmd.method);
      }
    }
    double[] ms = timed.millis();

    long tw = System.nanoTime();
    CamResult first = results.get(0);
    int[] seg =
        toImageGrid(
            first.predicted().classes(),
            first.predicted().height(),
            first.predicted().width(),
            h,
            w);
    st.png(
        dir + "/segmentation.png",
        Overlays.segmentation(display, seg, run.classNames(), ExplainCommand.SEG_ALPHA));
    List<String[]> resultFiles = new ArrayList<>();
    for (int ri = 0; ri < results.size(); ri++) {
      CamResult r = results.get(ri);
      String base =
          dir
              + "/"
              + ExplainCommand.targetSlug(r.target(), run.classNames())
              + "."
              + ExplainCommand.slug(r.layer());
      float[] heat = r.heatmap().data();
      st.png(base + ".heatmap.png", Images.toImage(new FloatTensor(Shape.of(h, w), heat)));
      st.png(
          base + ".overlay.png",
          Overlays.blend(
              display, heat, h, w, ExplainCommand.HEAT_ALPHA, dev.segcam.image.Colormaps.JET));
      String full = null;
      if (resized) {
        // the map upsampled to the image's own size, over the original pixels
        int fh = origSize[0];
        int fw = origSize[1];
        full = base + ".overlay.full.png";
        st.png(
            full,
            Overlays.blend(
                raw,
                Overlays.resizeMap(heat, h, w, fh, fw),
                fh,
                fw,
                ExplainCommand.HEAT_ALPHA,
                dev.segcam.image.Colormaps.JET));
      }
      String guidedPng = null;
      String guidedCamPng = null;
      if (guidedResults != null) {
        GuidedGradCam.Result g = guidedResults.get(ri);
        guidedPng = base + ".guided.png";
        guidedCamPng = base + ".guided-gradcam.png";
        st.png(guidedPng, Images.toImage(GuidedGradCam.display(g.guided())));
        st.png(guidedCamPng, Images.toImage(GuidedGradCam.display(g.guidedGradCam())));
      }
      resultFiles.add(
          new String[] {
            base + ".heatmap.png", base + ".overlay.png", full, guidedPng, guidedCamPng
          });
    }
    List<String> panels = new ArrayList<>();
    List<String> panelsFull = resized ? new ArrayList<>() : null;
    int[] segFull = null;
    if (resized) {
      segFull =
          toImageGrid(
              first.predicted().classes(),
              first.predicted().height(),
              first.predicted().width(),
              origSize[0],
              origSize[1]);
    }
    for (String layer : run.layers()) {
      List<float[]> cams = new ArrayList<>();
      List<Integer> camClasses = new ArrayList<>();
      List<String> titles = new ArrayList<>();
      List<int[]> regions = new ArrayList<>();
      for (CamResult r : results) {
        if (r.layer().equals(layer)) {
          regions.add(regionOnImage(r, h, w));
          cams.add(r.heatmap().data());
          camClasses.add(r.target().classIndex());
          titles.add(
              run.classNames().get(r.target().classIndex())
                  + ", "
                  + VideoRun.methodName(r.method())
                  + ", "
                  + r.target().region().describe()
                  + " @ "
                  + layer);
        }
      }
      Panels.CamTiles tiles = new Panels.CamTiles(cams, camClasses, titles, regions);
      String p = dir + "/panel." + ExplainCommand.slug(layer) + ".png";
      st.png(
          p,
          Panels.segGradCam(
              display,
              seg,
              run.classNames(),
              tiles,
              ExplainCommand.HEAT_ALPHA,
              new int[] {ExplainCommand.TILE, 0}));
      panels.add(p);
      if (resized) {
        String pf = dir + "/panel." + ExplainCommand.slug(layer) + ".full.png";
        st.png(pf, fullPanel(raw, segFull, run.classNames(), tiles, h, w));
        panelsFull.add(pf);
      }
      if (guidedResults != null) {
        String gp = dir + "/panel." + ExplainCommand.slug(layer) + ".guided.png";
        st.png(gp, guidedPanel(display, guidedResults, layer, run.classNames()));
        panels.add(gp);
      }
    }
    double writeMs = (System.nanoTime() - tw) / 1e6;
    double imageMs = (System.nanoTime() - tImage) / 1e6;

    int[] counts = new int[run.classCount()];
    for (int p : first.predicted().classes()) {
      if (p >= 0 && p < counts.length) {
        counts[p]++;
      }
    }
    List<Documents.ClassCount> classes = new ArrayList<>();
    for (int c = 0; c < run.classCount(); c++) {
      classes.add(new Documents.ClassCount(c, run.classNames().get(c), counts[c]));
    }
    List<Documents.Result> docResults = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      CamResult r = results.get(i);
      float rawMax = 0;
      for (float v : r.upsampled().data()) {
        rawMax = Math.max(rawMax, v);
      }
      int c = r.target().classIndex();
      docResults.add(
          new Documents.Result(
              new Documents.Target(c, run.classNames().get(c), r.target().region().describe()),
              r.layer(),
              new int[] {r.rawMap().shape().dim(1), r.rawMap().shape().dim(0)},
              VideoRun.methodName(r.method()),
              Json.finite(r.score()),
              Json.finite(rawMax),
              Documents.weights(r.weights()),
              resultFiles.get(i)[0],
              resultFiles.get(i)[1],
              resultFiles.get(i)[2],
              resultFiles.get(i)[3],
              resultFiles.get(i)[4]));
    }
    Documents.ExplainImage doc =
        new Documents.ExplainImage(
            "0.1.0",
            file.toString(),
            new int[] {origSize[1], origSize[0]},
            new int[] {w, h},
            resized,
            cmd.model.toString(),
            run.backendName(),
            run.backendReason(),
            cmd.guided ? GUIDED_METHOD : VideoRun.methodName(cmd.method),
            cmd.score.mode == ScoreMode.LOGITS ? "logits" : "probs",
            classes,
            new Documents.ImageTimings(
                Json.ms(run.importMs()),
                Json.ms(ms[0]),
                Json.ms(ms[1]),
                Json.ms(ms[2]),
                Json.ms(writeMs),
                Json.ms(imageMs)),
            docResults,
            dir + "/segmentation.png",
            panels,
            panelsFull);
    st.text(dir + "/explain.json", Json.pretty(doc));

    if (!cmd.json) {
      cmd.progress.clear();
      StringBuilder sb = new StringBuilder();
      sb.append(name).append(resized ? " (resized)" : "").append(": predicted");
      boolean classifier = first.predicted().height() * first.predicted().width() == 1;
      for (int c = 0; c < counts.length; c++) {
        if (counts[c] > 0) {
          // a classifier predicts one class for the image, not a pixel count
          sb.append(' ').append(run.classNames().get(c));
          sb.append(classifier ? "," : " " + counts[c] + " px,");
        }
      }
      sb.setLength(sb.length() - 1);
      sb.append(
          String.format(
              Locale.ROOT,
              "; forward %.0f ms, backward %.0f ms, cam %.0f ms, write %.0f ms",
              ms[0],
              ms[1],
              ms[2],
              writeMs));
      stdout.println(sb);
      for (int i = 0; i < results.size(); i++) {
        CamResult r = results.get(i);
        String what =
            ExplainCommand.targetSlug(r.target(), run.classNames())
                + (run.layers().size() > 1 ? " @ " + r.layer() : "");
        stdout.printf(
            Locale.ROOT,
            "  %-20s score %12.4f  -> %s%n",
            what,
            r.score(),
            cmd.out.resolve(resultFiles.get(i)[1]));
      }
      for (String p : panels) {
        stdout.println("  panel -> " + cmd.out.resolve(p));
      }
      stdout.flush();
    }
    return doc;
  }

  /**
   * The targets for one image: the user's classes (each must be predicted somewhere when the region
   * is the predicted one), else the class at --pixel, else every class predicted.
   */
  private static List<Target> targets(
      ExplainCommand cmd, ExplainCommand.Run run, LabelMap labelMap, String name) {
    // which classes: the user's, else what the model sees in this image
    boolean predictedRegion = cmd.region == null || cmd.region.predicted || cmd.region.component;
    int[] predicted = labelMap.classes();
    int oh = labelMap.height();
    int ow = labelMap.width();
    List<Integer> cls = run.classIndices();
    if (cls.isEmpty()) {
      if (cmd.region != null && cmd.region.pixel != null) {
        int x = cmd.region.pixel.v()[0];
        int y = cmd.region.pixel.v()[1];
        Target.checkPixel(x, y, ow, oh);
        cls = List.of(predicted[y * ow + x]);
      } else {
        TreeSet<Integer> present = new TreeSet<>();
        for (int p : predicted) {
          present.add(p);
        }
        cls = List.copyOf(present);
      }
    } else if (predictedRegion) {
      for (int c : cls) {
        boolean any = false;
        for (int p : predicted) {
          any |= p == c;
        }
        if (!any) {
          throw new CamException.EmptyMaskException(
              "class "
                  + c
                  + " ("
                  + run.classNames().get(c)
                  + ") is predicted nowhere in "
                  + name
                  + ", so its predicted region is empty; pick another class or a region"
                  + " (--pixel, --box, --mask, --whole)");
        }
      }
    }
    List<Target> targets = new ArrayList<>();
    for (int c : cls) {
      targets.add(RegionOption.target(cmd.region, c).withScore(cmd.score.mode));
    }
    return targets;
  }

  /** The name of {@code --method guided-gradcam} in explain.json. */
  static final String GUIDED_METHOD = "guided-gradcam";

  /** image | per target: guided backpropagation, Guided Grad-CAM (at one layer). */
  private static BufferedImage guidedPanel(
      BufferedImage display,
      List<GuidedGradCam.Result> results,
      String layer,
      List<String> classNames) {
    Panels.Builder b = Panels.builder().tileSize(ExplainCommand.TILE).tile("image", display);
    for (GuidedGradCam.Result g : results) {
      if (!g.cam().layer().equals(layer)) {
        continue;
      }
      String what =
          classNames.get(g.cam().target().classIndex())
              + ", "
              + g.cam().target().region().describe();
      b.tile("guided: " + what, Images.toImage(GuidedGradCam.display(g.guided())));
      b.tile(
          "guided Grad-CAM: " + what + " @ " + layer,
          Images.toImage(GuidedGradCam.display(g.guidedGradCam())));
    }
    return b.render();
  }

  // labels (oh*ow) -> labels (h*w), nearest sample at each pixel centre
  /** The target's region M on the image grid (1 inside), for drawing; null for the whole image. */
  private static int[] regionOnImage(CamResult r, int h, int w) {
    Target.Region region = r.target().region();
    if (region instanceof Target.WholeImage) {
      return null;
    }
    int oh = r.predicted().height();
    int ow = r.predicted().width();
    float[] m = region.weights(oh, ow, h, w, r.predicted(), r.target().classIndex());
    int[] in = new int[m.length];
    for (int i = 0; i < m.length; i++) {
      in[i] = m[i] != 0 ? 1 : 0;
    }
    return toImageGrid(in, oh, ow, h, w);
  }

  /**
   * The Seg-Grad-CAM panel at the original image's own size: each map (h x w, the model's input)
   * upsampled bilinearly over the original pixels, each region outline scaled (nearest) from the
   * model grid; tiles at the image's size where the panel fits {@link Images#MAX_SIDE}.
   */
  private static BufferedImage fullPanel(
      BufferedImage raw,
      int[] segFull,
      List<String> classNames,
      Panels.CamTiles tiles,
      int h,
      int w) {
    int fh = raw.getHeight();
    int fw = raw.getWidth();
    List<float[]> camsFull = new ArrayList<>();
    List<int[]> regionsFull = new ArrayList<>();
    for (int i = 0; i < tiles.maps().size(); i++) {
      camsFull.add(Overlays.resizeMap(tiles.maps().get(i), h, w, fh, fw));
      int[] region = tiles.region(i);
      regionsFull.add(region == null ? null : toImageGrid(region, h, w, fh, fw));
    }
    int[] grid =
        Panels.fitGrid(tiles.maps().size() + Panels.SEG_GRAD_CAM_EXTRA_TILES, Math.max(fh, fw));
    return Panels.segGradCam(
        raw,
        segFull,
        classNames,
        new Panels.CamTiles(camsFull, tiles.classes(), tiles.titles(), regionsFull),
        ExplainCommand.HEAT_ALPHA,
        grid);
  }

  private static int[] toImageGrid(int[] labels, int oh, int ow, int h, int w) {
    if (oh == h && ow == w) {
      return labels;
    }
    int[] src = Target.nearestIndex(oh, ow, h, w);
    int[] outp = new int[h * w];
    for (int i = 0; i < outp.length; i++) {
      outp[i] = labels[src[i]];
    }
    return outp;
  }

  // (1,H,W,3) -> (1,H,W,1), the mean of the channels
  private static FloatTensor grey(FloatTensor rgb) {
    int[] d = rgb.shape().dims();
    float[] v = rgb.data();
    float[] g = new float[d[1] * d[2]];
    for (int i = 0; i < g.length; i++) {
      g[i] = (v[3 * i] + v[3 * i + 1] + v[3 * i + 2]) / 3f;
    }
    return new FloatTensor(Shape.of(1, d[1], d[2], 1), g);
  }
}
