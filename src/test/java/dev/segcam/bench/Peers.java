package dev.segcam.bench;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;

/**
 * The PyTorch peers of issue #15 point 4 (hand-written Grad-CAM and pytorch-grad-cam's GradCAM +
 * SemanticSegmentationTarget, on the same weights) for {@link CpuVsTensorflowSet}: engineer 15c's
 * {@code TorchPeerExport} writes segcam's imported graph, weights, images and target, and {@code
 * TorchPeer} runs {@code bench/peers/torch_gradcam.py} as a child process ({@code READY}, {@code
 * run} -> {@code ms <wall> <cpu>}, {@code quit} -> {@code peak_rss_mb N}) and checks its maps
 * against segcam's before any timing.
 *
 * <p>Those classes came on their own branch; they are reached by reflection (same package, same
 * names and signatures as on that branch) so this driver compiles and runs with or without them:
 * where they are missing, or a peer cannot run here ({@code TorchPeer.unavailable}: no torch in
 * /usr/bin/python3, no pytorch-grad-cam), or its maps disagree, the peer is off with the reason in
 * the JSON.
 */
final class Peers {
  private Peers() {}

  /** The peers, by the name the JSON and {@code --peers} use, and TorchPeer.Kind's constant. */
  static final Map<String, String> KINDS = Map.of("torch-hand", "HAND", "pytorch-grad-cam", "PGC");

  static final String[] NAMES = {"torch-hand", "pytorch-grad-cam"};

  private static final String PEER = "dev.segcam.bench.TorchPeer";
  private static final String EXPORT = "dev.segcam.bench.TorchPeerExport";

  /** An opened peer, or why it is off. */
  record Opened(Side side, String offReason) {}

  /** A peer as a benchmark side; its peak RSS is known once closed. */
  static final class Side implements BenchSet.Side {
    private final String name;
    private final Object peer;
    private final Class<?> type;
    double peakRssMb = Double.NaN;
    final double agreement;

    private Side(String name, Object peer, double agreement) {
      this.name = name;
      this.peer = peer;
      this.type = peer.getClass();
      this.agreement = agreement;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public double[] step() {
      double wall = (double) call(type, peer, "step", new Class<?>[0]);
      double cpu = (double) call(type, peer, "lastCpuMs", new Class<?>[0]);
      return new double[] {wall, cpu};
    }

    @Override
    public void close() {
      call(type, peer, "close", new Class<?>[0]);
      peakRssMb = (double) call(type, peer, "peakRssMb", new Class<?>[0]);
    }
  }

  /** Writes the peers' export of a configuration once (both peers read it); the directory. */
  static Path export(
      BenchSet.Config c,
      BenchSet.Model m,
      Graph graph,
      String logits,
      FloatTensor images,
      String layer) {
    // under target/, never beside the shipped SavedModel in weights/
    Path dir = Paths.get("target", "bench", "set", c.id() + "-torch");
    Class<?> ex = load(EXPORT);
    Class<?> target = load(EXPORT + "$Target");
    Object t =
        call(
            target,
            null,
            "centre",
            new Class<?>[] {int.class, int.class, int.class, String.class},
            BenchSet.TARGET_CLASS,
            c.size(),
            c.size(),
            layer);
    call(
        ex,
        null,
        "write",
        new Class<?>[] {
          Path.class, String.class, Graph.class, String.class, FloatTensor.class, target
        },
        dir,
        c.model(),
        graph,
        logits,
        images,
        t);
    return dir;
  }

  /** True when 15c's classes are on the class path. */
  static String missing() {
    try {
      Class.forName(PEER);
      Class.forName(EXPORT);
      return null;
    } catch (ClassNotFoundException e) {
      return "TorchPeer/TorchPeerExport (engineer 15c's bench/peers piece) not on this build";
    }
  }

  /**
   * Opens peer {@code name} on the export in dir and checks its maps against segcam's heatmaps and
   * upsampled maps (batch*H*W, images in order), or says why it is off.
   */
  static Opened open(
      String name, Path dir, int batch, int threads, float[] segcamHeat, float[] segcamUp) {
    String kindName = KINDS.get(name);
    if (kindName == null) {
      return new Opened(null, "unknown peer " + name + " (" + String.join(", ", NAMES) + ")");
    }
    Class<?> peerType = load(PEER);
    Class<?> kindType = load(PEER + "$Kind");
    Object kind = enumConstant(kindType, kindName);
    Object why = call(peerType, null, "unavailable", new Class<?>[] {kindType}, kind);
    if (why != null) {
      return new Opened(null, why.toString());
    }
    Object peer;
    try {
      peer =
          call(
              peerType,
              null,
              "start",
              new Class<?>[] {Path.class, kindType, int.class, int.class},
              dir,
              kind,
              batch,
              threads);
    } catch (RuntimeException e) {
      return new Opened(null, "could not start: " + e.getMessage());
    }
    try {
      // the peers' maps are held to the TensorFlow side's rule (1e-4 of the map's max on the
      // normalised maps, CpuVsTensorflow.ATOL_OF_MAX): at 512x512 two float32 engines differ by
      // more than the small models' 2e-5 (seen: 9.1e-5 on the 124-class U-Net, both peers alike)
      double tol =
          Math.max(
              (double) peerType.getDeclaredField("AGREEMENT_OF_MAX").get(null),
              CpuVsTensorflow.ATOL_OF_MAX
                  / (double) peerType.getDeclaredField("NORMALISED_GAIN_BOUND").get(null));
      double a =
          (double)
              call(
                  peerType,
                  peer,
                  "requireAgreement",
                  new Class<?>[] {float[].class, float[].class, double.class},
                  segcamHeat,
                  segcamUp,
                  tol);
      return new Opened(new Side(name, peer, a), null);
    } catch (RuntimeException | ReflectiveOperationException e) {
      call(peerType, peer, "close", new Class<?>[0]);
      return new Opened(null, "maps disagree with segcam's: " + e.getMessage());
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Object enumConstant(Class<?> type, String name) {
    return Enum.valueOf((Class) type, name);
  }

  private static Class<?> load(String name) {
    try {
      return Class.forName(name);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(name + " is not on the class path", e);
    }
  }

  /** Calls a (package-private) method; its own exceptions come out unwrapped. */
  private static Object call(
      Class<?> type, Object target, String method, Class<?>[] params, Object... args) {
    try {
      Method m = type.getDeclaredMethod(method, params);
      m.setAccessible(true);
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(type.getSimpleName() + "." + method + ": " + c, c);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(
          type.getName() + "." + method + " is not what this driver expects: " + e, e);
    }
  }
}
