package dev.segcam.bench;

import dev.segcam.cam.Explainer;
import dev.segcam.image.Images;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes segcam's imported IR graph for the PyTorch peers (bench/peers/irnet.py): DIR/graph.json,
 * the nodes from the input to the logits in graph order (name, op, inputs, attributes: strides,
 * dilations, explicit pads top/bottom/left/right computed for the exported input size, pooling
 * window, resize size and coordinate rule, concat axis in NCHW, transposed-conv output size), the
 * weights as float32 .npy files in TensorFlow's layouts (DIR/w/), the images DIR/input.npy
 * (N,H,W,C) and DIR/target.json (class, box, layer, logits node). Ops the peers do not run are
 * written as {@code {"op": <type>, "unsupported": true}}, which the Python side refuses naming the
 * node.
 *
 * <pre>
 * java ... dev.segcam.bench.TorchPeerExport --model scene-unet|unet:256|unet124:512|classic:512
 *     [--dir target/torch-peer/&lt;model&gt;] [--batch 1] [--class 1] [--layer NAME] [--seed 15]
 * </pre>
 *
 * The box is the centre half of the output each way (the cpu-vs-tensorflow target); the layer
 * defaults to the model's default Grad-CAM layer (scene-unet: dec1_3/conv2) and for the U-Nets to
 * bottleneck_b/relu, the cpu-vs-tensorflow layer.
 */
final class TorchPeerExport {
  static final String FORMAT = "segcam-torch-peer/1";

  /** NHWC axis -> NCHW axis for rank-4 tensors. */
  private static final int[] NCHW_AXIS = {0, 2, 3, 1};

  private TorchPeerExport() {}

  /**
   * The Grad-CAM target written to target.json: class, box x0 ≤ x &lt; x1, y0 ≤ y &lt; y1, layer.
   */
  record Target(int cls, int x0, int y0, int x1, int y1, String layer) {
    /** The centre half of an (h, w) output each way. */
    static Target centre(int cls, int h, int w, String layer) {
      return new Target(cls, w / 4, h / 4, 3 * w / 4, 3 * h / 4, layer);
    }

    dev.segcam.cam.Target segcam() {
      return dev.segcam.cam.Target.box(cls, x0, y0, x1, y1);
    }
  }

  /**
   * Writes the export of graph (from its input to logits) for images (N,H,W,C) and target to dir
   * (created; existing files replaced).
   */
  static void write(
      Path dir, String model, Graph graph, String logits, FloatTensor images, Target target) {
    String input = graph.inputs().get(0);
    if (graph.inputs().size() != 1) {
      throw new IllegalArgumentException(
          model + ": the torch peers take one input, the graph has " + graph.inputs());
    }
    // pads and sizes depend on H and W only: a graph exported with a fixed batch (BenchUnet's
    // SavedModels say 1) is described at its own batch, and the peers run any batch
    int declared = graph.node(input).shape().dim(0);
    Shape probe = declared > 0 ? images.shape().withDim(0, declared) : images.shape();
    Map<String, Shape> shapes = graph.inferShapes(Map.of(input, probe));
    Set<String> needed = ancestors(graph, logits);
    if (!needed.contains(target.layer())) {
      throw new IllegalArgumentException(
          model + ": layer '" + target.layer() + "' does not feed the logits '" + logits + "'");
    }
    try {
      Files.createDirectories(dir.resolve("w"));
      List<Map<String, Object>> nodes = new ArrayList<>();
      for (Node n : graph.nodes()) {
        if (n.name().equals(input) || !needed.contains(n.name())) {
          continue;
        }
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("name", n.name());
        j.put("inputs", n.inputs());
        Shape x = n.inputs().isEmpty() ? null : shapes.get(n.inputs().get(0));
        String prefix = String.format(Locale.ROOT, "w/%03d-", nodes.size());
        describe(dir, prefix, n, x, shapes.get(n.name()), j);
        nodes.add(j);
      }
      Map<String, Object> g = new LinkedHashMap<>();
      g.put("format", FORMAT);
      g.put("model", model);
      g.put("input", Map.of("name", input, "shape", images.shape().dims(), "layout", "NHWC"));
      g.put("logits", logits);
      g.put("nodes", nodes);
      Files.writeString(dir.resolve("graph.json"), Json.pretty(g));
      writeNpy(dir.resolve("input.npy"), images.shape(), images.data());
      Map<String, Object> t = new LinkedHashMap<>();
      t.put("class", target.cls());
      t.put("box", new int[] {target.x0(), target.y0(), target.x1(), target.y1()});
      t.put("layer", target.layer());
      t.put("logits", logits);
      t.put("score", "sum of the class's logits over the box (per image)");
      Files.writeString(dir.resolve("target.json"), Json.pretty(t));
    } catch (IOException e) {
      throw new UncheckedIOException("writing the torch-peer export to " + dir, e);
    }
  }

  private static void describe(
      Path dir, String prefix, Node n, Shape x, Shape y, Map<String, Object> j) throws IOException {
    Op op = n.op();
    if (op instanceof Op.Conv2D || op instanceof Op.DepthwiseConv2D) {
      Op.Windowed c = (Op.Windowed) op;
      ConvGeometry geo = ConvGeometry.ofConv(c, x);
      j.put("op", op instanceof Op.Conv2D ? "conv2d" : "depthwise_conv2d");
      j.put("filter", weights(dir, prefix + "filter", c.filter()));
      j.put("filter_shape", c.filter().shape().dims());
      j.put("bias", weights(dir, prefix + "bias", bias(op)));
      j.put("stride", new int[] {c.strideH(), c.strideW()});
      j.put("dilation", new int[] {c.dilationH(), c.dilationW()});
      j.put("pads", pads(geo));
    } else if (op instanceof Op.Conv2DTranspose t) {
      ConvGeometry geo = ConvGeometry.ofTransposed(t, x, y);
      j.put("op", "conv2d_transpose");
      j.put("filter", weights(dir, prefix + "filter", t.filter()));
      j.put("bias", weights(dir, prefix + "bias", t.bias()));
      j.put("stride", new int[] {t.strideH(), t.strideW()});
      j.put("pads", pads(geo));
      j.put("output", new int[] {y.dim(1), y.dim(2)});
    } else if (op instanceof Op.BiasAdd b) {
      j.put("op", "bias_add");
      j.put("bias", weights(dir, prefix + "bias", b.bias()));
    } else if (op instanceof Op.BatchNorm b) {
      j.put("op", "batch_norm");
      j.put("scale", weights(dir, prefix + "scale", b.scale()));
      j.put("offset", weights(dir, prefix + "offset", b.offset()));
    } else if (op instanceof Op.Activation a) {
      j.put("op", "activation");
      j.put("kind", a.kind().name().toLowerCase(Locale.ROOT));
      j.put("alpha", a.alpha());
    } else if (op instanceof Op.Pool p) {
      j.put("op", p.kind() == Op.PoolKind.MAX ? "max_pool" : "avg_pool");
      j.put("window", new int[] {p.windowH(), p.windowW()});
      j.put("stride", new int[] {p.strideH(), p.strideW()});
      j.put("pads", pads(ConvGeometry.ofPool(p, x)));
    } else if (op instanceof Op.Resize r && r.mode() == Op.ResizeMode.BILINEAR) {
      j.put("op", "resize_bilinear");
      j.put("size", new int[] {y.dim(1), y.dim(2)});
      j.put("align_corners", r.alignCorners());
      j.put("half_pixel_centers", r.halfPixelCenters());
    } else if (op instanceof Op.Concat c && y.rank() == 4) {
      j.put("op", "concat");
      j.put("axis", NCHW_AXIS[c.axis()]);
    } else if (op instanceof Op.Softmax && y.rank() == 4) {
      j.put("op", "softmax");
      j.put("axis", NCHW_AXIS[3]);
    } else {
      j.put("op", op.type());
      j.put("unsupported", true);
    }
  }

  private static FloatTensor bias(Op op) {
    return op instanceof Op.Conv2D c ? c.bias() : ((Op.DepthwiseConv2D) op).bias();
  }

  private static int[] pads(ConvGeometry g) {
    return new int[] {g.padT(), g.padB(), g.padL(), g.padR()};
  }

  private static String weights(Path dir, String name, FloatTensor t) throws IOException {
    if (t == null) {
      return null;
    }
    String file = name + ".npy";
    writeNpy(dir.resolve(file), t.shape(), t.data());
    return file;
  }

  private static Set<String> ancestors(Graph graph, String node) {
    Set<String> seen = new HashSet<>();
    Deque<String> todo = new ArrayDeque<>(List.of(node));
    while (!todo.isEmpty()) {
      String n = todo.pop();
      if (seen.add(n)) {
        todo.addAll(graph.node(n).inputs());
      }
    }
    return seen;
  }

  // ---- .npy (format 1.0, little-endian float32, C order)

  private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final int NPY_PREAMBLE = 10; // magic, version (2), header length (2)
  private static final int NPY_ALIGN = 64;

  static void writeNpy(Path file, Shape shape, float[] data) throws IOException {
    StringBuilder dims = new StringBuilder();
    for (int d : shape.dims()) {
      dims.append(d).append(", ");
    }
    String dict =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims.toString().strip() + "), }";
    int pad = NPY_ALIGN - (NPY_PREAMBLE + dict.length() + 1) % NPY_ALIGN;
    String header = dict + " ".repeat(pad % NPY_ALIGN) + "\n";
    ByteBuffer b =
        ByteBuffer.allocate(NPY_PREAMBLE + header.length() + 4 * data.length)
            .order(ByteOrder.LITTLE_ENDIAN);
    b.put(NPY_MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.US_ASCII));
    b.asFloatBuffer().put(data);
    Files.write(file, b.array());
  }

  /** A float32 array read from a .npy file. */
  record Npy(int[] shape, float[] data) {}

  private static final Pattern NPY_SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

  static Npy readNpy(Path file) {
    byte[] all;
    try {
      all = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + file, e);
    }
    ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
    if (all.length < NPY_PREAMBLE
        || !Arrays.equals(Arrays.copyOf(all, NPY_MAGIC.length), NPY_MAGIC)
        || all[6] != 1) {
      throw new IllegalArgumentException(file + ": not a version-1 .npy file");
    }
    int len = Short.toUnsignedInt(b.getShort(8));
    String header = new String(all, NPY_PREAMBLE, len, StandardCharsets.US_ASCII);
    Matcher m = NPY_SHAPE.matcher(header);
    if (!header.contains("'<f4'") || header.contains("'fortran_order': True") || !m.find()) {
      throw new IllegalArgumentException(
          file + ": expected a C-order little-endian float32 array, header " + header.strip());
    }
    int[] shape =
        Arrays.stream(m.group(1).split(","))
            .map(String::strip)
            .filter(s -> !s.isEmpty())
            .mapToInt(Integer::parseInt)
            .toArray();
    int size = Arrays.stream(shape).reduce(1, (p, q) -> p * q);
    if (all.length != NPY_PREAMBLE + len + 4 * size) {
      throw new IllegalArgumentException(
          file
              + ": "
              + (all.length - NPY_PREAMBLE - len)
              + " data bytes for shape "
              + Arrays.toString(shape));
    }
    float[] data = new float[size];
    b.position(NPY_PREAMBLE + len);
    b.asFloatBuffer().get(data);
    return new Npy(shape, data);
  }

  // ---- the benchmark models

  /** Random images in [0, 1) (N,H,W,3), as the benchmarks feed them. */
  static FloatTensor randomImages(Random rng, int n, int h, int w) {
    float[] d = new float[n * h * w * 3];
    for (int i = 0; i < d.length; i++) {
      d[i] = rng.nextFloat();
    }
    return new FloatTensor(Shape.of(n, h, w, 3), d);
  }

  /**
   * The benchmark's images for a model: scene-unet gets the shipped scenes (samples/scene_NN.png,
   * cycled to fill the batch: random noise gives all-zero maps for most classes there), the
   * random-weight U-Nets random images in [0, 1).
   */
  static FloatTensor images(String model, int batch, int h, int w, Random rng) {
    if (!model.equals("scene-unet")) {
      return randomImages(rng, batch, h, w);
    }
    List<Path> scenes;
    try (Stream<Path> files = Files.list(Paths.get("samples"))) {
      scenes =
          files
              .filter(f -> f.getFileName().toString().matches("scene_\\d+\\.png"))
              .sorted()
              .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("listing samples/", e);
    }
    if (scenes.isEmpty()) {
      throw new IllegalStateException("no samples/scene_NN.png for scene-unet's images");
    }
    float[] d = new float[batch * h * w * 3];
    for (int i = 0; i < batch; i++) {
      float[] one = Images.readTensor(scenes.get(i % scenes.size()), h, w).data();
      System.arraycopy(one, 0, d, i * one.length, one.length);
    }
    return new FloatTensor(Shape.of(batch, h, w, 3), d);
  }

  /** The model directory of a benchmark model name: scene-unet, unet:S, unet124:S, classic:S. */
  static Path modelDir(String model, Path benchDir) {
    if (model.equals("scene-unet")) {
      return Paths.get("weights", "scene-unet");
    }
    String[] f = model.split(":");
    if (f.length != 2) {
      throw new IllegalArgumentException(
          "unknown model '" + model + "' (scene-unet, unet:SIZE, unet124:SIZE, classic:SIZE)");
    }
    int size = Integer.parseInt(f[1]);
    return switch (f[0]) {
      case "unet" -> BenchUnet.export(benchDir.resolve("unet" + size), size, 4, 20261123L).dir();
      case "unet124" -> BenchModels.export(BenchModels.UNET124, size, benchDir, 15).dir();
      case "classic" -> BenchModels.export(BenchModels.CLASSIC, size, benchDir, 15).dir();
      default -> throw new IllegalArgumentException("unknown model '" + model + "'");
    };
  }

  /** {@code --name value} pairs in order (the bench programs' arguments). */
  static Map<String, String> options(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --option value, got " + args[i]);
      }
      o.put(args[i].substring(2), args[i + 1]);
    }
    return o;
  }

  public static void main(String[] args) {
    Map<String, String> o = options(args);
    String model = o.getOrDefault("model", "scene-unet");
    Path dir = Paths.get(o.getOrDefault("dir", "target/torch-peer/" + model.replace(':', '-')));
    int batch = Integer.parseInt(o.getOrDefault("batch", "1"));
    int cls = Integer.parseInt(o.getOrDefault("class", "1"));
    long seed = Long.parseLong(o.getOrDefault("seed", "15"));
    ImportedModel im = SavedModelImporter.load(modelDir(model, Paths.get("target", "bench")));
    Graph graph = im.graph();
    Shape in = graph.node(graph.inputs().get(0)).shape();
    try (Explainer ex = Explainer.cpu(graph)) {
      String layer =
          o.containsKey("layer")
              ? im.layer(o.get("layer"))
              : model.equals("scene-unet") ? ex.defaultLayer() : im.layer("bottleneck_b/relu");
      FloatTensor images = images(model, batch, in.dim(1), in.dim(2), new Random(seed));
      Target t = Target.centre(cls, in.dim(1), in.dim(2), layer);
      write(dir, model, graph, ex.logitsNode(), images, t);
      System.out.printf(
          Locale.ROOT,
          "%s: wrote %s (batch %d, class %d, layer %s)%n",
          model,
          dir,
          batch,
          cls,
          layer);
    }
  }
}
