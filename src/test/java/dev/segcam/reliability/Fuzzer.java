package dev.segcam.reliability;

import dev.segcam.SegcamException;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.savedmodel.TensorBundle;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Mutates real SavedModels (saved_model.pb, variables.index, variables.data-*) and checks that
 * importing them (and, when the import succeeds, one CPU forward on a small random input) ends in
 * success or a typed {@link SegcamException} within a time bound. Everything a case does is drawn
 * from {@code new Random(seed)}, so {@link #runCase(long)} with an offender's seed reproduces it.
 */
public final class Fuzzer implements AutoCloseable {
  /**
   * How a case ended. OK and TYPED are fine; the rest are offenders. VAGUE: a typed error whose
   * message does not say where the problem is (see {@link #classify}).
   */
  public enum Outcome {
    OK,
    TYPED,
    VAGUE,
    UNTYPED,
    ERROR,
    HANG
  }

  /** What a case did to the model. */
  public enum Kind {
    BIT_FLIPS,
    BYTE_RUN,
    TRUNCATE,
    PB_SHAPE_DIMS,
    INDEX_ENTRY,
    NAN_WEIGHTS,
    GRAPH_CYCLE,
    SELF_CALL,
    DEEP_CHAIN,
    HUGE_ALLOC
  }

  public record Result(
      long seed, String fixture, Kind kind, String what, Outcome outcome, String detail) {
    @Override
    public String toString() {
      return String.format(
          "seed=%d fixture=%s kind=%s (%s) -> %s %s", seed, fixture, kind, what, outcome, detail);
    }
  }

  /** Fixture folders, relative to the project root (the working directory of tests and bench). */
  public static final List<Path> FIXTURES;

  static {
    List<Path> f = new ArrayList<>();
    Path root = Path.of("src/test/resources/fixtures");
    for (String n :
        new String[] {
          "tf1-cifar-cnn",
          "tf1-half-plus-two",
          "tf1-mediapipe-conv2d",
          "tf1-mixed-variables-conv2d",
          "tf2-keras-conv2d-effdet-fake",
          "tf2-keras-dense-two-shards",
          "tf2-keras-subclassed-conv1d",
          "tf2-module-half-plus-two",
          "tf2-module-multi-signature"
        }) {
      f.add(root.resolve(n));
    }
    f.add(Path.of("weights/scene-unet"));
    FIXTURES = List.copyOf(f);
  }

  private static final long[] HUGE_DIMS = {
    Integer.MAX_VALUE,
    1L << 31,
    1L << 40,
    Long.MAX_VALUE,
    100_000,
    -1,
    -2,
    -1000,
    Integer.MIN_VALUE,
    Long.MIN_VALUE,
    0
  };

  /**
   * Kinds that edit nodes of the GraphDef or its functions: a typed import error for them must also
   * name a node (the one edited or the one where the damage was found).
   */
  private static final java.util.Set<Kind> NODE_KINDS =
      java.util.EnumSet.of(
          Kind.PB_SHAPE_DIMS, Kind.GRAPH_CYCLE, Kind.SELF_CALL, Kind.DEEP_CHAIN, Kind.HUGE_ALLOC);

  private static final java.util.regex.Pattern QUOTED =
      java.util.regex.Pattern.compile("'([^']+)'");

  /** Largest input a forward is run on (elements), to keep the case fast. */
  private static final long MAX_FORWARD_ELEMENTS = 1 << 16;

  private final Path work;
  private final long timeoutMs;
  private final Map<Path, Map<String, byte[]>> originals = new LinkedHashMap<>();
  private ExecutorService worker = newWorker();

  public Fuzzer(Path work, long timeoutMs) {
    this.work = work;
    this.timeoutMs = timeoutMs;
    for (Path f : FIXTURES) {
      if (Files.isDirectory(f)) {
        originals.put(f, readAll(f));
      }
    }
    if (originals.isEmpty()) {
      throw new IllegalStateException("no fixtures found; run from the project root");
    }
  }

  private static ExecutorService newWorker() {
    return Executors.newSingleThreadExecutor(
        r -> {
          // daemon: a hung case must not keep the JVM alive; 64 MB stack is NOT given, so deep
          // recursion shows up as StackOverflowError like it would on a user's default thread
          Thread t = new Thread(r, "fuzz-case");
          t.setDaemon(true);
          return t;
        });
  }

  private static Map<String, byte[]> readAll(Path dir) {
    Map<String, byte[]> m = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        String rel = dir.relativize(p).toString();
        if (Files.isRegularFile(p)
            && (rel.equals("saved_model.pb") || rel.startsWith("variables/"))) {
          m.put(rel, Files.readAllBytes(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return m;
  }

  /** Runs one case: mutate, import (+ forward), classify. */
  public Result runCase(long seed) {
    Random r = new Random(seed);
    Path fixture = fixtureOf(r);
    Kind kind = Kind.values()[r.nextInt(Kind.values().length)];
    Map<String, byte[]> files = original(fixture.getFileName().toString());
    String what;
    try {
      what = mutate(kind, files, r);
    } catch (RuntimeException e) {
      // the mutation itself could not be applied (e.g. the fixture has no function library): the
      // unmodified model is still a valid case
      what = "mutation not applicable: " + e;
    }
    return runFiles(seed, fixture.getFileName().toString(), kind, what, files);
  }

  /** Writes a seed's mutated model to dir (kept, for reproducing a case by hand); returns what. */
  public String writeCase(long seed, Path dir) {
    Random r = new Random(seed);
    Path fixture = fixtureOf(r);
    Kind kind = Kind.values()[r.nextInt(Kind.values().length)];
    Map<String, byte[]> files = original(fixture.getFileName().toString());
    String what = mutate(kind, files, r);
    writeAll(dir, files);
    return fixture.getFileName() + " " + kind + " " + what;
  }

  private Path fixtureOf(Random r) {
    List<Path> fx = new ArrayList<>(originals.keySet());
    return fx.get(r.nextInt(fx.size()));
  }

  /** The fixture a seed's case mutates (its folder name), without running it. */
  public String fixtureOf(long seed) {
    return fixtureOf(new Random(seed)).getFileName().toString();
  }

  /** The kind of mutation a seed's case applies, without running it. */
  public Kind kindOf(long seed) {
    Random r = new Random(seed);
    fixtureOf(r);
    return Kind.values()[r.nextInt(Kind.values().length)];
  }

  /** A fresh copy of a fixture's files (relative path -> bytes), to mutate by hand. */
  public Map<String, byte[]> original(String fixtureName) {
    for (Map.Entry<Path, Map<String, byte[]>> e : originals.entrySet()) {
      if (e.getKey().getFileName().toString().equals(fixtureName)) {
        Map<String, byte[]> files = new TreeMap<>();
        e.getValue().forEach((k, v) -> files.put(k, v.clone()));
        return files;
      }
    }
    throw new IllegalArgumentException("no fixture " + fixtureName);
  }

  /** Writes the files as a case folder, imports (+ forward), classifies, removes the folder. */
  public Result runFiles(
      long seed, String fixture, Kind kind, String what, Map<String, byte[]> files) {
    Path dir = work.resolve("case-" + seed);
    // parsed only when a typed import error has to be checked for a node name (10^5-node graphs)
    java.util.function.Supplier<java.util.Set<String>> pbNodes =
        () -> NODE_KINDS.contains(kind) ? nodeNames(files) : null;
    try {
      writeAll(dir, files);
      return classify(seed, fixture, kind, what, dir, pbNodes);
    } finally {
      deleteQuietly(dir);
    }
  }

  /** What {@link #attempt} saw: the throwable (null: success) and, from the forward, the graph. */
  private record Attempt(Throwable thrown, Graph forwardGraph) {}

  /**
   * OK: import (and forward) succeeded. TYPED: a {@link SegcamException} that says where: an error
   * from the import names the case's folder (or a file inside it), and for {@link #NODE_KINDS} a
   * node too; an error from the forward of an imported graph names one of its nodes (or the
   * folder). VAGUE: typed but without that. UNTYPED / ERROR / HANG: any other exception, an Error
   * (OutOfMemoryError, StackOverflowError, ...), no end within the timeout.
   */
  Result classify(
      long seed,
      String fixture,
      Kind kind,
      String what,
      Path dir,
      java.util.function.Supplier<java.util.Set<String>> pbNodes) {
    Future<List<Attempt>> f = worker.submit(() -> attempt(dir));
    List<Attempt> as;
    try {
      as = f.get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      worker.shutdownNow();
      worker = newWorker();
      return new Result(seed, fixture, kind, what, Outcome.HANG, "no end within " + timeoutMs);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException e) {
      as = List.of(new Attempt(e.getCause(), null));
    }
    // several signatures imported: the case counts as its worst one
    Result worst = null;
    for (Attempt a : as) {
      Result res = classify(seed, fixture, kind, what, dir, pbNodes, a);
      if (worst == null || res.outcome().compareTo(worst.outcome()) > 0) {
        worst = res;
      }
    }
    return worst;
  }

  private static Result classify(
      long seed,
      String fixture,
      Kind kind,
      String what,
      Path dir,
      java.util.function.Supplier<java.util.Set<String>> pbNodes,
      Attempt a) {
    Throwable t = a.thrown();
    if (t == null) {
      return new Result(seed, fixture, kind, what, Outcome.OK, "");
    }
    String msg = String.valueOf(t.getMessage());
    String detail = t.getClass().getName() + ": " + shorten(msg);
    if (t instanceof SegcamException) {
      boolean namesFile = msg.contains(dir.toString());
      boolean ok;
      if (a.forwardGraph() != null) {
        java.util.Set<String> irNodes = new java.util.HashSet<>();
        for (Node n : a.forwardGraph().nodes()) {
          irNodes.add(n.name());
        }
        ok = namesFile || namesNode(t, msg, irNodes);
        detail = "(forward) " + detail;
      } else {
        java.util.Set<String> names = namesFile ? pbNodes.get() : null;
        ok = namesFile && (names == null || namesNode(t, msg, names));
      }
      return new Result(seed, fixture, kind, what, ok ? Outcome.TYPED : Outcome.VAGUE, detail);
    }
    StackTraceElement[] st = t.getStackTrace();
    for (int i = 0; i < Math.min(4, st.length); i++) {
      detail += "\n      at " + st[i];
    }
    Outcome o = t instanceof Error ? Outcome.ERROR : Outcome.UNTYPED;
    return new Result(seed, fixture, kind, what, o, detail);
  }

  /**
   * Whether the message names a node: an ImportException that carries one, or a quoted name in the
   * message that is a node name, possibly with an output index or behind the call path a function
   * body was inlined under ("StatefulPartitionedCall/model/conv/BiasAdd").
   */
  static boolean namesNode(Throwable t, String msg, java.util.Set<String> names) {
    if (t instanceof dev.segcam.savedmodel.ImportException ie && ie.where().node() != null) {
      return true;
    }
    java.util.regex.Matcher m = QUOTED.matcher(msg);
    while (m.find()) {
      String q = m.group(1);
      int colon = q.lastIndexOf(':');
      String[] forms = colon > 0 ? new String[] {q, q.substring(0, colon)} : new String[] {q};
      for (String s : forms) {
        if (names.contains(s)) {
          return true;
        }
        for (int i = s.indexOf('/'); i >= 0; i = s.indexOf('/', i + 1)) {
          if (names.contains(s.substring(i + 1))) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** Names of all nodes (top level and in function bodies) of the mutated saved_model.pb. */
  private static java.util.Set<String> nodeNames(Map<String, byte[]> files) {
    java.util.Set<String> out = new java.util.HashSet<>();
    try {
      SavedModel sm = SavedModel.parseFrom(files.get("saved_model.pb"));
      for (MetaGraphDef mg : sm.getMetaGraphsList()) {
        for (NodeDef n : mg.getGraphDef().getNodeList()) {
          out.add(n.getName());
        }
        for (FunctionDef f : mg.getGraphDef().getLibrary().getFunctionList()) {
          for (NodeDef n : f.getNodeDefList()) {
            out.add(n.getName());
          }
        }
      }
    } catch (IOException e) {
      // not parseable: the import error then only needs to name the file
      return null;
    }
    return out;
  }

  private static String shorten(String s) {
    return s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }

  /**
   * Import, then one forward on a small random input when the input shape allows it. A model
   * without a default signature (several, none named serving_default) has each of them imported, so
   * that the mutation is reached rather than the "choose a signature" error.
   */
  private static List<Attempt> attempt(Path dir) {
    Attempt first = attempt(dir, null);
    if (!(first.thrown() instanceof dev.segcam.savedmodel.ImportException e)
        || !e.reason().startsWith("no '" + SavedModelImporter.DEFAULT_SIGNATURE + "' signature")) {
      return List.of(first);
    }
    List<String> sigs;
    try {
      sigs = SavedModelImporter.signatures(dir);
    } catch (Throwable t) {
      return List.of(new Attempt(t, null));
    }
    List<Attempt> out = new ArrayList<>();
    for (String sig : sigs) {
      out.add(attempt(dir, sig));
    }
    return out;
  }

  private static Attempt attempt(Path dir, String signature) {
    Graph g;
    try {
      g = SavedModelImporter.load(dir, signature).graph();
    } catch (Throwable t) {
      return new Attempt(t, null);
    }
    try {
      Map<String, FloatTensor> feeds = new LinkedHashMap<>();
      for (String in : g.inputs()) {
        Node n = g.node(in);
        if (!(n.op() instanceof Op.Input input)) {
          return new Attempt(null, null);
        }
        int[] dims = input.shape().dims();
        long size = 1;
        for (int i = 0; i < dims.length; i++) {
          if (dims[i] == Shape.UNKNOWN) {
            dims[i] = i == 0 ? 1 : 8;
          }
          if (dims[i] <= 0) {
            return new Attempt(null, null);
          }
          size *= dims[i];
          if (size > MAX_FORWARD_ELEMENTS) {
            return new Attempt(null, null);
          }
        }
        float[] data = new float[(int) size];
        Random r = new Random(size);
        for (int i = 0; i < data.length; i++) {
          data[i] = r.nextFloat();
        }
        feeds.put(in, new FloatTensor(Shape.of(dims), data));
      }
      try (CpuEngine e = new CpuEngine(g, 1)) {
        e.forward(feeds, List.of());
      }
      return new Attempt(null, null);
    } catch (Throwable t) {
      return new Attempt(t, g);
    }
  }

  // ---- mutations ------------------------------------------------------------------------------

  private static String mutate(Kind kind, Map<String, byte[]> files, Random r) {
    switch (kind) {
      case BIT_FLIPS:
        {
          String f = pickFile(files, r);
          byte[] b = files.get(f);
          int n = 1 + r.nextInt(8);
          for (int i = 0; i < n && b.length > 0; i++) {
            b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
          }
          return n + " bit flips in " + f;
        }
      case BYTE_RUN:
        {
          String f = pickFile(files, r);
          byte[] b = files.get(f);
          if (b.length == 0) {
            return "empty " + f;
          }
          int at = r.nextInt(b.length);
          int len = Math.min(b.length - at, 1 + r.nextInt(64));
          int mode = r.nextInt(3);
          for (int i = 0; i < len; i++) {
            b[at + i] = mode == 0 ? (byte) r.nextInt(256) : mode == 1 ? (byte) 0xff : 0;
          }
          return "run of " + len + " bytes (mode " + mode + ") at " + at + " in " + f;
        }
      case TRUNCATE:
        {
          String f = pickFile(files, r);
          int len = files.get(f).length;
          int keep = len == 0 ? 0 : r.nextInt(len);
          files.put(f, Arrays.copyOf(files.get(f), keep));
          return "truncate " + f + " to " + keep + " of " + len;
        }
      case PB_SHAPE_DIMS:
        return editPb(files, r, Fuzzer::shapeDims);
      case INDEX_ENTRY:
        return indexEntry(files, r);
      case NAN_WEIGHTS:
        return nanWeights(files, r);
      case GRAPH_CYCLE:
        return editPb(files, r, Fuzzer::cycle);
      case SELF_CALL:
        return editPb(files, r, Fuzzer::selfCall);
      case DEEP_CHAIN:
        return editPb(files, r, Fuzzer::deepChain);
      case HUGE_ALLOC:
        return editPb(files, r, Fuzzer::hugeAlloc);
      default:
        throw new IllegalStateException(kind.toString());
    }
  }

  private static String pickFile(Map<String, byte[]> files, Random r) {
    List<String> names = new ArrayList<>(files.keySet());
    return names.get(r.nextInt(names.size()));
  }

  interface PbEdit {
    String apply(MetaGraphDef.Builder mg, Random r);
  }

  static String editPb(Map<String, byte[]> files, Random r, PbEdit edit) {
    SavedModel sm;
    try {
      sm = SavedModel.parseFrom(files.get("saved_model.pb"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    SavedModel.Builder b = sm.toBuilder();
    String what = edit.apply(b.getMetaGraphsBuilder(0), r);
    files.put("saved_model.pb", b.build().toByteArray());
    return what;
  }

  private static TensorShapeProto badShape(Random r, TensorShapeProto orig) {
    TensorShapeProto.Builder s = orig.toBuilder();
    if (s.getDimCount() == 0 || r.nextInt(5) == 0) {
      int rank = r.nextBoolean() ? 1 + r.nextInt(4) : 40 + r.nextInt(100);
      s.clearDim();
      for (int i = 0; i < rank; i++) {
        s.addDim(TensorShapeProto.Dim.newBuilder().setSize(1 + r.nextInt(3)));
      }
    }
    int n = 1 + r.nextInt(s.getDimCount());
    for (int k = 0; k < n; k++) {
      s.getDimBuilder(r.nextInt(s.getDimCount())).setSize(HUGE_DIMS[r.nextInt(HUGE_DIMS.length)]);
    }
    if (r.nextInt(8) == 0) {
      s.setUnknownRank(true);
    }
    return s.build();
  }

  /** Replaces a shape somewhere: a node's shape attr, a Const's tensor, a signature tensor. */
  private static String shapeDims(MetaGraphDef.Builder mg, Random r) {
    if (r.nextInt(3) == 0 && mg.getSignatureDefCount() > 0) {
      List<String> keys = new ArrayList<>(mg.getSignatureDefMap().keySet());
      String key = keys.get(r.nextInt(keys.size()));
      SignatureDef.Builder sig = mg.getSignatureDefMap().get(key).toBuilder();
      Map<String, TensorInfo> ins = new LinkedHashMap<>(sig.getInputsMap());
      if (ins.isEmpty()) {
        return "signature " + key + " has no inputs";
      }
      String in = new ArrayList<>(ins.keySet()).get(r.nextInt(ins.size()));
      TensorInfo ti = ins.get(in);
      sig.putInputs(in, ti.toBuilder().setTensorShape(badShape(r, ti.getTensorShape())).build());
      mg.putSignatureDef(key, sig.build());
      return "signature " + key + " input " + in + " shape";
    }
    List<NodeDef.Builder> nodes = allNodes(mg);
    for (int tries = 0; tries < 50; tries++) {
      NodeDef.Builder n = nodes.get(r.nextInt(nodes.size()));
      for (String attr : new String[] {"shape", "value", "_output_shapes", "dtype"}) {
        AttrValue v = n.getAttrMap().get(attr);
        if (v == null) {
          continue;
        }
        if (v.hasShape()) {
          n.putAttr(attr, v.toBuilder().setShape(badShape(r, v.getShape())).build());
        } else if (v.hasTensor()) {
          TensorProto t = v.getTensor();
          n.putAttr(
              attr,
              v.toBuilder()
                  .setTensor(t.toBuilder().setTensorShape(badShape(r, t.getTensorShape())))
                  .build());
        } else if (v.hasList() && v.getList().getShapeCount() > 0) {
          AttrValue.ListValue.Builder l = v.getList().toBuilder();
          int i = r.nextInt(l.getShapeCount());
          l.setShape(i, badShape(r, l.getShape(i)));
          n.putAttr(attr, v.toBuilder().setList(l).build());
        } else if (attr.equals("dtype")) {
          n.putAttr(attr, v.toBuilder().setType(DataType.forNumber(1 + r.nextInt(23))).build());
        } else {
          continue;
        }
        return "node " + n.getName() + " attr " + attr;
      }
    }
    return "no shape attr found";
  }

  /** Top-level nodes and nodes inside function bodies, as builders that write back. */
  private static List<NodeDef.Builder> allNodes(MetaGraphDef.Builder mg) {
    List<NodeDef.Builder> out = new ArrayList<>();
    GraphDef.Builder g = mg.getGraphDefBuilder();
    out.addAll(g.getNodeBuilderList());
    if (g.hasLibrary()) {
      for (FunctionDef.Builder f : g.getLibraryBuilder().getFunctionBuilderList()) {
        out.addAll(f.getNodeDefBuilderList());
      }
    }
    return out;
  }

  /** Points some input at a node that (transitively or directly) consumes it: a cycle. */
  private static String cycle(MetaGraphDef.Builder mg, Random r) {
    GraphDef.Builder g = mg.getGraphDefBuilder();
    boolean inFunction = g.hasLibrary() && g.getLibrary().getFunctionCount() > 0 && r.nextBoolean();
    List<NodeDef.Builder> nodes;
    String sep;
    if (inFunction) {
      FunctionDef.Builder f =
          g.getLibraryBuilder().getFunctionBuilder(r.nextInt(g.getLibrary().getFunctionCount()));
      nodes = f.getNodeDefBuilderList();
      sep = ":output:0";
    } else {
      nodes = g.getNodeBuilderList();
      sep = "";
    }
    List<NodeDef.Builder> withInputs = new ArrayList<>();
    for (NodeDef.Builder n : nodes) {
      if (n.getInputCount() > 0) {
        withInputs.add(n);
      }
    }
    if (withInputs.isEmpty()) {
      return "no node with inputs";
    }
    NodeDef.Builder a = withInputs.get(r.nextInt(withInputs.size()));
    String target;
    if (r.nextBoolean()) {
      target = a.getName(); // self loop
    } else {
      // a consumer of a: a -> b -> a
      NodeDef.Builder b = null;
      for (NodeDef.Builder n : nodes) {
        for (String in : n.getInputList()) {
          String base = in.startsWith("^") ? in.substring(1) : in;
          if (base.split(":")[0].equals(a.getName())) {
            b = n;
          }
        }
      }
      target = b == null ? a.getName() : b.getName();
    }
    int slot = r.nextInt(a.getInputCount());
    a.setInput(slot, target + sep);
    return (inFunction ? "function " : "graph ") + a.getName() + "[" + slot + "] <- " + target;
  }

  static AttrValue func(String name) {
    return AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName(name)).build();
  }

  /** A function that calls itself (directly, or via a second one), reached from the graph. */
  private static String selfCall(MetaGraphDef.Builder mg, Random r) {
    GraphDef.Builder g = mg.getGraphDefBuilder();
    String op = r.nextBoolean() ? "StatefulPartitionedCall" : "PartitionedCall";
    if (g.hasLibrary() && g.getLibrary().getFunctionCount() > 0 && r.nextBoolean()) {
      // redirect an existing call inside a function body to that same function
      for (FunctionDef.Builder f : g.getLibraryBuilder().getFunctionBuilderList()) {
        for (NodeDef.Builder n : f.getNodeDefBuilderList()) {
          if (n.getAttrMap().containsKey("f")) {
            n.putAttr("f", func(f.getSignature().getName()));
            return "call in " + f.getSignature().getName() + " now calls itself";
          }
        }
      }
    }
    // add F(x) = G(x), G(x) = F(x) (or F calling F) and route a graph node's input through F
    boolean mutual = r.nextBoolean();
    String fName = "__fuzz_f";
    String gName = mutual ? "__fuzz_g" : fName;
    for (String[] fg :
        mutual
            ? new String[][] {{fName, gName}, {gName, fName}}
            : new String[][] {{fName, fName}}) {
      FunctionDef.Builder f = FunctionDef.newBuilder();
      f.getSignatureBuilder()
          .setName(fg[0])
          .addInputArg(
              org.tensorflow.proto.OpDef.ArgDef.newBuilder()
                  .setName("x")
                  .setType(DataType.DT_FLOAT))
          .addOutputArg(
              org.tensorflow.proto.OpDef.ArgDef.newBuilder()
                  .setName("y")
                  .setType(DataType.DT_FLOAT));
      f.addNodeDef(
          NodeDef.newBuilder()
              .setName("call")
              .setOp(op)
              .addInput("x")
              .putAttr("f", func(fg[1]))
              .putAttr(
                  "Tin",
                  AttrValue.newBuilder()
                      .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                      .build())
              .putAttr(
                  "Tout",
                  AttrValue.newBuilder()
                      .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                      .build()));
      f.putRet("y", "call:output:0");
      g.getLibraryBuilder().addFunction(f);
    }
    List<NodeDef.Builder> withInputs = new ArrayList<>();
    for (NodeDef.Builder n : g.getNodeBuilderList()) {
      if (n.getInputCount() > 0 && !n.getInput(0).startsWith("^")) {
        withInputs.add(n);
      }
    }
    if (withInputs.isEmpty()) {
      return "added recursive functions, no node to route through them";
    }
    NodeDef.Builder a = withInputs.get(r.nextInt(withInputs.size()));
    String orig = a.getInput(0);
    g.addNode(
        NodeDef.newBuilder()
            .setName("__fuzz_call")
            .setOp(op)
            .addInput(orig)
            .putAttr("f", func(fName))
            .putAttr(
                "Tin",
                AttrValue.newBuilder()
                    .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                    .build())
            .putAttr(
                "Tout",
                AttrValue.newBuilder()
                    .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                    .build()));
    a.setInput(0, "__fuzz_call");
    return (mutual ? "mutually " : "self-") + "recursive " + op + " before " + a.getName();
  }

  /** 10^5 Identity nodes (or 10^3 nested function calls) in front of a signature output. */
  private static String deepChain(MetaGraphDef.Builder mg, Random r) {
    GraphDef.Builder g = mg.getGraphDefBuilder();
    String key = pickSignature(mg, r);
    if (key == null) {
      return "no signature with outputs";
    }
    SignatureDef.Builder sig = mg.getSignatureDefMap().get(key).toBuilder();
    String out = new ArrayList<>(sig.getOutputsMap().keySet()).get(0);
    TensorInfo ti = sig.getOutputsMap().get(out);
    String prev = ti.getName();
    String last;
    if (r.nextInt(4) == 0) {
      // nested functions: F_i(x) = F_{i+1}(x), F_last(x) = Identity(x)
      int depth = 1000 + r.nextInt(2000);
      for (int i = 0; i < depth; i++) {
        FunctionDef.Builder f = FunctionDef.newBuilder();
        f.getSignatureBuilder()
            .setName("__fuzz_nest_" + i)
            .addInputArg(
                org.tensorflow.proto.OpDef.ArgDef.newBuilder()
                    .setName("x")
                    .setType(DataType.DT_FLOAT))
            .addOutputArg(
                org.tensorflow.proto.OpDef.ArgDef.newBuilder()
                    .setName("y")
                    .setType(DataType.DT_FLOAT));
        NodeDef.Builder n = NodeDef.newBuilder().setName("n").addInput("x");
        if (i + 1 < depth) {
          n.setOp("PartitionedCall")
              .putAttr("f", func("__fuzz_nest_" + (i + 1)))
              .putAttr(
                  "Tin",
                  AttrValue.newBuilder()
                      .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                      .build())
              .putAttr(
                  "Tout",
                  AttrValue.newBuilder()
                      .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                      .build());
          f.putRet("y", "n:output:0");
        } else {
          n.setOp("Identity")
              .putAttr("T", AttrValue.newBuilder().setType(DataType.DT_FLOAT).build());
          f.putRet("y", "n:output:0");
        }
        f.addNodeDef(n);
        g.getLibraryBuilder().addFunction(f);
      }
      g.addNode(
          NodeDef.newBuilder()
              .setName("__fuzz_nest_call")
              .setOp("PartitionedCall")
              .addInput(prev)
              .putAttr("f", func("__fuzz_nest_0"))
              .putAttr(
                  "Tin",
                  AttrValue.newBuilder()
                      .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                      .build())
              .putAttr(
                  "Tout",
                  AttrValue.newBuilder()
                      .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
                      .build()));
      last = "__fuzz_nest_call";
      sig.putOutputs(out, ti.toBuilder().setName(last + ":0").build());
      mg.putSignatureDef(key, sig.build());
      return depth + " nested function calls before " + key + "/" + out;
    }
    int depth = 100_000;
    AttrValue t = AttrValue.newBuilder().setType(DataType.DT_FLOAT).build();
    String op = r.nextBoolean() ? "Identity" : "Relu";
    for (int i = 0; i < depth; i++) {
      String name = "__fuzz_chain_" + i;
      g.addNode(NodeDef.newBuilder().setName(name).setOp(op).addInput(prev).putAttr("T", t));
      prev = name;
    }
    sig.putOutputs(out, ti.toBuilder().setName(prev + ":0").build());
    mg.putSignatureDef(key, sig.build());
    return depth + " " + op + " nodes before " + key + "/" + out;
  }

  private static String pickSignature(MetaGraphDef.Builder mg, Random r) {
    List<String> keys = new ArrayList<>();
    for (Map.Entry<String, SignatureDef> e : mg.getSignatureDefMap().entrySet()) {
      if (e.getValue().getOutputsCount() > 0 && !e.getKey().startsWith("__")) {
        keys.add(e.getKey());
      }
    }
    if (keys.isEmpty()) {
      return null;
    }
    // serving_default is what load() picks; mutate it most of the time
    if (keys.contains("serving_default") && r.nextInt(4) != 0) {
      return "serving_default";
    }
    return keys.get(r.nextInt(keys.size()));
  }

  /** Constants and inputs whose shapes would need far more than the heap. */
  private static String hugeAlloc(MetaGraphDef.Builder mg, Random r) {
    GraphDef.Builder g = mg.getGraphDefBuilder();
    long[][] shapes = {
      {100_000, 100_000}, {1 << 20, 1 << 20, 3}, {Integer.MAX_VALUE}, {65536, 65536, 64}
    };
    long[] dims = shapes[r.nextInt(shapes.length)];
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    for (long d : dims) {
      s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    int mode = r.nextInt(3);
    if (mode == 0) {
      // an existing Const claims the huge shape (content too short, or one value to splat)
      for (NodeDef.Builder n : allNodes(mg)) {
        if (n.getOp().equals("Const") && n.getAttrMap().containsKey("value") && r.nextBoolean()) {
          TensorProto t = n.getAttrMap().get("value").getTensor();
          TensorProto.Builder tb = t.toBuilder().setTensorShape(s);
          if (r.nextBoolean()) {
            tb.clearTensorContent().clearFloatVal().addFloatVal(1f).setDtype(DataType.DT_FLOAT);
          }
          n.putAttr("value", AttrValue.newBuilder().setTensor(tb).build());
          return "Const " + n.getName() + " claims " + Arrays.toString(dims);
        }
      }
    }
    if (mode == 1) {
      // a signature input claims the huge shape
      String key = pickSignature(mg, r);
      if (key != null) {
        SignatureDef.Builder sig = mg.getSignatureDefMap().get(key).toBuilder();
        for (Map.Entry<String, TensorInfo> e : sig.getInputsMap().entrySet()) {
          sig.putInputs(e.getKey(), e.getValue().toBuilder().setTensorShape(s).build());
          for (NodeDef.Builder n : g.getNodeBuilderList()) {
            if (n.getName().equals(e.getValue().getName().split(":")[0])
                && n.getAttrMap().containsKey("shape")) {
              n.putAttr("shape", AttrValue.newBuilder().setShape(s).build());
            }
          }
          mg.putSignatureDef(key, sig.build());
          return "input " + key + "/" + e.getKey() + " claims " + Arrays.toString(dims);
        }
      }
    }
    // a Fill / BroadcastTo fed to the output through an Add
    String key = pickSignature(mg, r);
    if (key == null) {
      return "no signature";
    }
    SignatureDef.Builder sig = mg.getSignatureDefMap().get(key).toBuilder();
    String out = new ArrayList<>(sig.getOutputsMap().keySet()).get(0);
    TensorInfo ti = sig.getOutputsMap().get(out);
    TensorProto.Builder dimsT = TensorProto.newBuilder().setDtype(DataType.DT_INT64);
    dimsT.getTensorShapeBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(dims.length));
    for (long d : dims) {
      dimsT.addInt64Val(d);
    }
    AttrValue f32 = AttrValue.newBuilder().setType(DataType.DT_FLOAT).build();
    g.addNode(
        NodeDef.newBuilder()
            .setName("__fuzz_dims")
            .setOp("Const")
            .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT64).build())
            .putAttr("value", AttrValue.newBuilder().setTensor(dimsT).build()));
    TensorProto.Builder one = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).addFloatVal(1f);
    g.addNode(
        NodeDef.newBuilder()
            .setName("__fuzz_one")
            .setOp("Const")
            .putAttr("dtype", f32)
            .putAttr("value", AttrValue.newBuilder().setTensor(one).build()));
    String fillOp = r.nextBoolean() ? "Fill" : "BroadcastTo";
    NodeDef.Builder fill = NodeDef.newBuilder().setName("__fuzz_fill").setOp(fillOp);
    if (fillOp.equals("Fill")) {
      fill.addInput("__fuzz_dims").addInput("__fuzz_one").putAttr("T", f32);
    } else {
      fill.addInput("__fuzz_one").addInput("__fuzz_dims").putAttr("T", f32);
    }
    fill.putAttr("index_type", AttrValue.newBuilder().setType(DataType.DT_INT64).build());
    fill.putAttr("Tidx", AttrValue.newBuilder().setType(DataType.DT_INT64).build());
    g.addNode(fill);
    g.addNode(
        NodeDef.newBuilder()
            .setName("__fuzz_add")
            .setOp("AddV2")
            .addInput(ti.getName())
            .addInput("__fuzz_fill")
            .putAttr("T", f32));
    sig.putOutputs(out, ti.toBuilder().setName("__fuzz_add:0").build());
    mg.putSignatureDef(key, sig.build());
    return fillOp + " " + Arrays.toString(dims) + " added to " + key + "/" + out;
  }

  // ---- bundle mutations -------------------------------------------------------------------------

  private static Map<String, BundleEntryProto> readIndex(Map<String, byte[]> files, Path tmp)
      throws IOException {
    Path v = Files.createDirectories(tmp.resolve("variables"));
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      if (e.getKey().startsWith("variables/")) {
        Files.write(tmp.resolve(e.getKey()), e.getValue());
      }
    }
    TensorBundle b = TensorBundle.open(v);
    Map<String, BundleEntryProto> m = new TreeMap<>();
    for (String k : b.keys()) {
      m.put(k, b.entry(k));
    }
    return m;
  }

  private static Map<String, BundleEntryProto> index(Map<String, byte[]> files, int[] shards) {
    Path tmp;
    try {
      tmp = Files.createTempDirectory("fuzz-index");
      try {
        Map<String, BundleEntryProto> m = readIndex(files, tmp);
        shards[0] = TensorBundle.open(tmp.resolve("variables")).numShards();
        return m;
      } finally {
        deleteQuietly(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String indexEntry(Map<String, byte[]> files, Random r) {
    int[] shards = new int[1];
    Map<String, BundleEntryProto> m = index(files, shards);
    if (m.isEmpty()) {
      return "empty bundle";
    }
    List<String> keys = new ArrayList<>(m.keySet());
    String key = keys.get(r.nextInt(keys.size()));
    BundleEntryProto.Builder e = m.get(key).toBuilder();
    String what;
    switch (r.nextInt(6)) {
      case 0:
        e.setShape(badShape(r, e.getShape()));
        what = "shape " + e.getShape().getDimList();
        break;
      case 1:
        e.setOffset(r.nextBoolean() ? -1 - r.nextInt(1000) : (1L << 40) + r.nextInt(1000));
        what = "offset " + e.getOffset();
        break;
      case 2:
        e.setSize(HUGE_DIMS[r.nextInt(HUGE_DIMS.length)]);
        what = "size " + e.getSize();
        break;
      case 3:
        e.setShardId(r.nextBoolean() ? -1 : shards[0] + r.nextInt(5));
        what = "shard " + e.getShardId();
        break;
      case 4:
        e.setDtype(DataType.forNumber(1 + r.nextInt(23)));
        what = "dtype " + e.getDtype();
        break;
      default:
        // a slice layout we do not write: the importer must refuse or handle it
        e.addSlices(org.tensorflow.proto.TensorSliceProto.getDefaultInstance());
        what = "slices";
    }
    m.put(key, e.build());
    files.put("variables/variables.index", table(m, shards[0]));
    return "index entry '" + key + "' " + what;
  }

  /** NaN, Inf and huge floats in a float tensor, with a correct crc so the data is accepted. */
  static String nanWeights(Map<String, byte[]> files, Random r) {
    int[] shards = new int[1];
    Map<String, BundleEntryProto> m = index(files, shards);
    List<String> keys = new ArrayList<>();
    for (Map.Entry<String, BundleEntryProto> e : m.entrySet()) {
      if (e.getValue().getDtype() == DataType.DT_FLOAT && e.getValue().getSize() >= 4) {
        keys.add(e.getKey());
      }
    }
    if (keys.isEmpty()) {
      return "no float tensor";
    }
    String key = keys.get(r.nextInt(keys.size()));
    BundleEntryProto e = m.get(key);
    String file = String.format("variables/variables.data-%05d-of-%05d", e.getShardId(), shards[0]);
    byte[] data = files.get(file);
    ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE};
    int n = (int) (e.getSize() / 4);
    boolean all = r.nextBoolean();
    for (int i = 0; i < n; i++) {
      if (all || r.nextInt(10) == 0) {
        bb.putFloat((int) e.getOffset() + 4 * i, bad[r.nextInt(bad.length)]);
      }
    }
    CRC32C crc = new CRC32C();
    crc.update(data, (int) e.getOffset(), (int) e.getSize());
    m.put(key, e.toBuilder().setCrc32C(mask((int) crc.getValue())).build());
    files.put("variables/variables.index", table(m, shards[0]));
    return (all ? "all" : "10% of") + " values of '" + key + "' NaN/Inf/huge";
  }

  // LevelDB table writer: one data block without prefix sharing, an index block, the footer.

  private static int mask(int crc) {
    return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
  }

  private static byte[] table(Map<String, BundleEntryProto> m, int shards) {
    TreeMap<String, byte[]> entries = new TreeMap<>();
    entries.put("", BundleHeaderProto.newBuilder().setNumShards(shards).build().toByteArray());
    m.forEach((k, v) -> entries.put(k, v.toByteArray()));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] block = block(entries);
    writeBlock(out, block);
    ByteArrayOutputStream handle = new ByteArrayOutputStream();
    varint(handle, 0);
    varint(handle, block.length);
    TreeMap<String, byte[]> idx = new TreeMap<>();
    idx.put(entries.lastKey() + "\u0000", handle.toByteArray());
    byte[] idxBlock = block(idx);
    int idxOff = out.size();
    writeBlock(out, idxBlock);
    ByteArrayOutputStream footer = new ByteArrayOutputStream();
    varint(footer, 0);
    varint(footer, 0);
    varint(footer, idxOff);
    varint(footer, idxBlock.length);
    while (footer.size() < 40) {
      footer.write(0);
    }
    footer.writeBytes(
        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0xdb4775248b80fb57L).array());
    out.writeBytes(footer.toByteArray());
    return out.toByteArray();
  }

  private static byte[] block(TreeMap<String, byte[]> entries) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> e : entries.entrySet()) {
      byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
      varint(b, 0);
      varint(b, k.length);
      varint(b, e.getValue().length);
      b.writeBytes(k);
      b.writeBytes(e.getValue());
    }
    // one restart point at offset 0
    b.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putInt(1).array());
    return b.toByteArray();
  }

  private static void writeBlock(ByteArrayOutputStream out, byte[] block) {
    out.writeBytes(block);
    CRC32C crc = new CRC32C();
    crc.update(block);
    crc.update(0); // block type byte: uncompressed
    out.write(0);
    out.writeBytes(
        ByteBuffer.allocate(4)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(mask((int) crc.getValue()))
            .array());
  }

  private static void varint(ByteArrayOutputStream out, long v) {
    while ((v & ~0x7fL) != 0) {
      out.write((int) ((v & 0x7f) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
  }

  // ---- files ------------------------------------------------------------------------------------

  private static void writeAll(Path dir, Map<String, byte[]> files) {
    try {
      Files.createDirectories(dir.resolve("variables"));
      for (Map.Entry<String, byte[]> e : files.entrySet()) {
        Files.write(dir.resolve(e.getKey()), e.getValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void deleteQuietly(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // best effort: a leftover temp folder is harmless
    }
  }

  @Override
  public void close() {
    worker.shutdownNow();
  }
}
