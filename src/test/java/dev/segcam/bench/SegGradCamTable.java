package dev.segcam.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.segcam.backend.BackendChoice;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.LabelMap;
import dev.segcam.cam.Target;
import dev.segcam.eval.Faithfulness;
import dev.segcam.eval.Localization;
import dev.segcam.ir.FloatTensor;
import dev.segcam.synth.SceneGenerator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Seg-Grad-CAM table: on generated scenes with ground truth, every CAM method x layer depth x
 * region kind, the faithfulness and localisation metrics of dev.segcam.eval, mean ± std. A program
 * (bench/seg-gradcam-table.sh), not a test.
 *
 * <p>Per scene: the object classes (disc, bar, shadow) present in the ground truth. Region kinds:
 * {@code predicted} (the pixels predicted as the class; ground truth = the class's true pixels),
 * {@code component} (the largest predicted 4-connected component; ground truth = the true object it
 * overlaps most), {@code box} (the bounding box of the largest true object of the class; ground
 * truth = that object). Rows whose region is empty (class not predicted) are skipped and counted.
 * Region sensitivity: when a class has two true objects, the maps for a box around each
 * (total-variation distance of the maps scaled to sum 1). Shadow on disc: for shadow targets, the
 * share of the map's heat on the true disc pixels.
 *
 * <p>Args: {@code --model weights/scene-unet --scenes 200 --curve-scenes 200 --steps 6 --set-seed 3
 * --backend cpu --layers dec1_3/conv2,dec1_2/conv1,mid_3/conv2 --out
 * bench/results/seg-gradcam-table.json --doc docs/seg-gradcam-table.md}; {@code --from-json FILE}
 * only rewrites the page from a recorded result.
 */
public final class SegGradCamTable {
  static final int SIZE = 64;
  static final String[] KINDS = {"predicted", "box", "component"};
  static final String[] METRICS = {
    "deletion_auc",
    "insertion_auc",
    "pointing",
    "energy_in_mask",
    "region_sensitivity",
    "shadow_on_disc"
  };

  private SegGradCamTable() {}

  public static void main(String[] args) throws IOException {
    Map<String, String> a = new LinkedHashMap<>();
    a.put("--model", "weights/scene-unet");
    a.put("--scenes", "200");
    a.put("--curve-scenes", "-1");
    a.put("--steps", "6");
    a.put("--set-seed", "3");
    a.put("--layers", "dec1_3/conv2,dec1_2/conv1,mid_3/conv2");
    a.put("--out", "bench/results/seg-gradcam-table.json");
    a.put("--doc", "docs/seg-gradcam-table.md");
    a.put("--from-json", "");
    a.put("--backend", "cpu");
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!a.containsKey(args[i])) {
        throw new IllegalArgumentException("unknown option " + args[i] + "; known: " + a.keySet());
      }
      a.put(args[i], args[i + 1]);
    }
    if (!a.get("--from-json").isEmpty()) {
      // only rewrite the page from a recorded result
      JsonNode root = new ObjectMapper().readTree(Paths.get(a.get("--from-json")).toFile());
      List<String> lays = new ArrayList<>();
      for (JsonNode r : root.get("rows")) {
        if (!lays.contains(r.get("layer").asText())) {
          lays.add(r.get("layer").asText());
        }
      }
      atomically(Paths.get(a.get("--doc")), TableDoc.markdown(root, lays));
      return;
    }
    int scenes = Integer.parseInt(a.get("--scenes"));
    int curveScenes = Integer.parseInt(a.get("--curve-scenes"));
    if (curveScenes < 0) {
      curveScenes = scenes;
    }
    int steps = Integer.parseInt(a.get("--steps"));
    long setSeed = Long.parseLong(a.get("--set-seed"));
    List<String> layers = List.of(a.get("--layers").split(","));
    Faithfulness.Options opt =
        new Faithfulness.Options(
            steps,
            new Faithfulness.Blur(Faithfulness.DEFAULT_BLUR_SIGMA),
            Faithfulness.DEFAULT_BATCH);

    SceneGenerator gen = new SceneGenerator(SIZE, SIZE);
    // method -> layer -> kind -> metric -> values
    Map<String, List<Double>> values = new LinkedHashMap<>();
    int[] skipped = new int[1];
    long t0 = System.nanoTime();
    long curveNanos = 0;
    long camNanos = 0;
    boolean javaOnly = BackendChoice.parse(a.get("--backend")) == BackendChoice.JAVA;
    String[] engine = new String[1];
    try (Explainer ex =
        Explainer.open(
            Paths.get(a.get("--model")),
            g -> {
              CpuCamBackend b =
                  CpuCamBackend.open(
                      g, Runtime.getRuntime().availableProcessors(), javaOnly, System.err::println);
              engine[0] = b.engine();
              return b;
            })) {
      System.err.println("CPU engine: " + engine[0]);
      ex.emptyTargetsAsZero(true);
      for (int i = 0; i < scenes; i++) {
        SceneGenerator.Scene sc = gen.generate(setSeed, i);
        FloatTensor img = sc.toTensor();
        List<Target> targets = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        List<boolean[]> truths = new ArrayList<>();
        List<Integer> box2Of = new ArrayList<>();
        for (int c = 1; c < SceneGenerator.NUM_CLASSES; c++) {
          List<boolean[]> objs = components(sc.labels(), c);
          if (objs.isEmpty()) {
            continue;
          }
          boolean[] cls = new boolean[SIZE * SIZE];
          for (boolean[] o : objs) {
            or(cls, o);
          }
          targets.add(Target.predicted(c));
          kinds.add("predicted");
          truths.add(cls);
          box2Of.add(-1);
          int boxAt = targets.size();
          targets.add(box(c, objs.get(0)));
          kinds.add("box");
          truths.add(objs.get(0));
          box2Of.add(-1);
          targets.add(Target.largestComponent(c));
          kinds.add("component");
          truths.add(null); // resolved from the prediction below
          box2Of.add(-1);
          if (objs.size() > 1) {
            targets.add(box(c, objs.get(1)));
            kinds.add("box2");
            truths.add(objs.get(1));
            box2Of.add(boxAt);
          }
        }
        if (targets.isEmpty()) {
          continue;
        }
        boolean curves = i < curveScenes;
        // the curves of every method, layer and region of the scene in one call: shared
        // perturbed images (equal maps) run forward once
        List<CamResult> scored = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        for (CamMethod m : CamMethod.values()) {
          long te = System.nanoTime();
          List<CamResult> rs = ex.explain(img, targets, layers, m);
          camNanos += System.nanoTime() - te;
          // image-major, then target, then layer
          for (int t = 0; t < targets.size(); t++) {
            for (int l = 0; l < layers.size(); l++) {
              CamResult r = rs.get(t * layers.size() + l);
              String kind = kinds.get(t);
              if (kind.equals("box2")) {
                CamResult first = rs.get(box2Of.get(t) * layers.size() + l);
                if (!Float.isNaN(first.score()) && !Float.isNaN(r.score())) {
                  add(
                      values,
                      key(m, layers.get(l), "box", "region_sensitivity"),
                      Localization.regionSensitivity(first.upsampled(), r.upsampled()));
                }
                continue;
              }
              if (Float.isNaN(r.score())) {
                skipped[0]++;
                continue;
              }
              boolean[] truth = truths.get(t);
              if (truth == null) {
                truth = overlapping(sc.labels(), r);
              }
              String k = key(m, layers.get(l), kind, "");
              add(values, k + "pointing", Localization.pointingGame(r.heatmap(), truth, 0) ? 1 : 0);
              add(values, k + "energy_in_mask", Localization.energyInMask(r.heatmap(), truth));
              if (r.target().classIndex() == SceneGenerator.SHADOW) {
                add(
                    values,
                    k + "shadow_on_disc",
                    Localization.energyInMask(
                        r.heatmap(), classMask(sc.labels(), SceneGenerator.DISC)));
              }
              scored.add(r);
              keys.add(k);
            }
          }
        }
        if (curves && !scored.isEmpty()) {
          long tc = System.nanoTime();
          List<Faithfulness.Curves> cs = Faithfulness.curves(ex, img, scored, opt, null);
          curveNanos += System.nanoTime() - tc;
          for (int j = 0; j < cs.size(); j++) {
            add(values, keys.get(j) + "deletion_auc", cs.get(j).deletion().auc());
            add(values, keys.get(j) + "insertion_auc", cs.get(j).insertion().auc());
          }
        }
        if ((i + 1) % 10 == 0 || i + 1 == scenes) {
          double s = (System.nanoTime() - t0) / 1e9;
          System.err.printf(
              Locale.ROOT,
              "[%d/%d] %.0f s (cams %.0f s, curves %.0f s), eta %.0f s%n",
              i + 1,
              scenes,
              s,
              camNanos / 1e9,
              curveNanos / 1e9,
              s / (i + 1) * (scenes - i - 1));
        }
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    write(a, layers, engine[0], scenes, curveScenes, steps, setSeed, values, skipped[0], seconds);
  }

  // ---------------------------------------------------------------- output

  private static void write(
      Map<String, String> a,
      List<String> layers,
      String engine,
      int scenes,
      int curveScenes,
      int steps,
      long setSeed,
      Map<String, List<Double>> values,
      int skipped,
      double seconds)
      throws IOException {
    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = om.createObjectNode();
    root.put("what", "Seg-Grad-CAM table: methods x layers x region kinds on generated scenes");
    root.put("model", a.get("--model"));
    root.put("date", Machine.nowUtc());
    root.put("commit", Machine.commit());
    root.putObject("device")
        .put("cpu", Machine.cpuModel())
        .put("cores", Machine.cores())
        .put("backend", "cpu")
        .put("engine", engine);
    root.put("scenes", scenes);
    root.put("curve_scenes", Math.min(curveScenes, scenes));
    root.put("scene_set_seed", setSeed);
    root.put("scene_size", SIZE + "x" + SIZE);
    root.put("deletion_steps", steps);
    root.put("baseline", "gaussian blur, sigma " + Faithfulness.DEFAULT_BLUR_SIGMA + " px");
    root.put("score", "mean softmax probability of the class over the region");
    root.put("rows_skipped_class_not_predicted", skipped);
    root.put("seconds", Math.round(seconds));
    ArrayNode rows = root.putArray("rows");
    for (CamMethod m : CamMethod.values()) {
      for (String l : layers) {
        for (String kind : KINDS) {
          ObjectNode row = rows.addObject();
          row.put("method", name(m));
          row.put("layer", l);
          row.put("region", kind);
          for (String metric : METRICS) {
            double[] s = stats(values.get(key(m, l, kind, metric)));
            ObjectNode o = row.putObject(metric);
            o.put("n", (int) s[2]);
            o.put("mean", s[0]);
            o.put("std", s[1]);
          }
        }
      }
    }
    Path out = Paths.get(a.get("--out"));
    atomically(out, om.writeValueAsString(root) + "\n");
    Path doc = Paths.get(a.get("--doc"));
    atomically(doc, TableDoc.markdown(root, layers));
    System.out.printf(Locale.ROOT, "wrote %s and %s (%.0f s)%n", out, doc, seconds);
  }

  static void atomically(Path file, String text) throws IOException {
    if (file.getParent() != null) {
      Files.createDirectories(file.getParent());
    }
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  static String name(CamMethod m) {
    return switch (m) {
      case GRAD_CAM -> "gradcam";
      case GRAD_CAM_PLUS_PLUS -> "gradcam++";
      case HIRES_CAM -> "hirescam";
      case XGRAD_CAM -> "xgradcam";
      case LAYER_CAM -> "layercam";
    };
  }

  private static String key(CamMethod m, String layer, String kind, String metric) {
    return name(m) + "|" + layer + "|" + kind + "|" + metric;
  }

  private static void add(Map<String, List<Double>> v, String key, double x) {
    if (!Double.isNaN(x)) {
      v.computeIfAbsent(key, k -> new ArrayList<>()).add(x);
    }
  }

  /** {mean, sample std, n}; NaN mean/std for no values. */
  static double[] stats(List<Double> xs) {
    if (xs == null || xs.isEmpty()) {
      return new double[] {Double.NaN, Double.NaN, 0};
    }
    double m = 0;
    for (double x : xs) {
      m += x;
    }
    m /= xs.size();
    double s = 0;
    for (double x : xs) {
      s += (x - m) * (x - m);
    }
    double sd = xs.size() > 1 ? Math.sqrt(s / (xs.size() - 1)) : 0;
    return new double[] {m, sd, xs.size()};
  }

  // ---------------------------------------------------------------- ground truth

  private static boolean[] classMask(byte[] labels, int c) {
    boolean[] m = new boolean[labels.length];
    for (int i = 0; i < labels.length; i++) {
      m[i] = labels[i] == c;
    }
    return m;
  }

  private static void or(boolean[] into, boolean[] m) {
    for (int i = 0; i < m.length; i++) {
      into[i] |= m[i];
    }
  }

  /** True 4-connected objects of class c, largest first (ties: first in row-major order). */
  static List<boolean[]> components(byte[] labels, int c) {
    int[] comp = new int[labels.length];
    List<boolean[]> out = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    int[] stack = new int[labels.length];
    for (int s = 0; s < labels.length; s++) {
      if (labels[s] != c || comp[s] != 0) {
        continue;
      }
      boolean[] m = new boolean[labels.length];
      int top = 0;
      stack[top++] = s;
      comp[s] = 1;
      int size = 0;
      while (top > 0) {
        int p = stack[--top];
        m[p] = true;
        size++;
        int y = p / SIZE;
        int x = p % SIZE;
        int[] nb = {
          x > 0 ? p - 1 : -1,
          x < SIZE - 1 ? p + 1 : -1,
          y > 0 ? p - SIZE : -1,
          y < SIZE - 1 ? p + SIZE : -1
        };
        for (int q : nb) {
          if (q >= 0 && labels[q] == c && comp[q] == 0) {
            comp[q] = 1;
            stack[top++] = q;
          }
        }
      }
      int at = 0;
      while (at < sizes.size() && sizes.get(at) >= size) {
        at++;
      }
      sizes.add(at, size);
      out.add(at, m);
    }
    return out;
  }

  private static Target box(int c, boolean[] obj) {
    int x0 = SIZE;
    int y0 = SIZE;
    int x1 = 0;
    int y1 = 0;
    for (int p = 0; p < obj.length; p++) {
      if (obj[p]) {
        x0 = Math.min(x0, p % SIZE);
        y0 = Math.min(y0, p / SIZE);
        x1 = Math.max(x1, p % SIZE + 1);
        y1 = Math.max(y1, p / SIZE + 1);
      }
    }
    return Target.box(c, x0, y0, x1, y1);
  }

  // the true object of the target's class that overlaps the predicted largest component most
  private static boolean[] overlapping(byte[] labels, CamResult r) {
    int c = r.target().classIndex();
    LabelMap p = r.predicted();
    float[] comp = r.target().region().weights(p.height(), p.width(), SIZE, SIZE, p, c);
    boolean[] best = new boolean[labels.length];
    int bestN = 0;
    for (boolean[] o : components(labels, c)) {
      int n = 0;
      for (int i = 0; i < o.length; i++) {
        n += o[i] && comp[i] != 0 ? 1 : 0;
      }
      if (n > bestN) {
        bestN = n;
        best = o;
      }
    }
    return best;
  }
}
