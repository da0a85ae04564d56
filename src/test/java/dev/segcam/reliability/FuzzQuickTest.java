package dev.segcam.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * The CI subset of the fuzz harness (the long run is bench/fuzz.sh): a fixed set of seeds that
 * covers every mutation kind on several fixtures, plus hand-made cases with a known right answer.
 * Every case must end in success or a typed error that names the file (and node); the hand-made
 * cases that are plainly broken must end in a typed error.
 */
class FuzzQuickTest {
  /** Seeds per kind; the 10^5-node chains cost seconds each, so fewer of those. */
  private static final int SEEDS_PER_KIND = 3;

  private static final int DEEP_CHAIN_SEEDS = 1;

  /** Generous: the box running CI may be shared; an endless loop still fails. */
  private static final long TIMEOUT_MS = 30_000;

  /** scene-unet is left to the long run: its imports are the slowest and add no new structure. */
  private static final String SKIPPED_FIXTURE = "scene-unet";

  private static final String FIXTURE = "tf2-keras-dense-two-shards";

  private static final AttrValue F32 = AttrValue.newBuilder().setType(DataType.DT_FLOAT).build();

  @Test
  void seededAndHandMadeCasesEndTypedOrWell() throws IOException {
    long t0 = System.nanoTime();
    Path work = Files.createTempDirectory("segcam-fuzz-quick");
    List<Fuzzer.Result> results = new ArrayList<>();
    List<Fuzzer.Result> mustBeTyped = new ArrayList<>();
    try (Fuzzer f = new Fuzzer(work, TIMEOUT_MS)) {
      for (long seed : seeds(f)) {
        results.add(f.runCase(seed));
      }
      mustBeTyped.add(truncatedPb(f));
      mustBeTyped.add(ffRunInPb(f));
      mustBeTyped.add(recursion(f, false));
      mustBeTyped.add(recursion(f, true));
      mustBeTyped.add(hugeConst(f));
      mustBeTyped.add(cycle(f));
      results.addAll(mustBeTyped);
      // accepted by the importer (a chain is not an error; NaN weights are valid floats), but must
      // not overflow the stack or hang
      results.add(deepChain(f));
      results.add(nanWeights(f));
    } finally {
      Fuzzer.deleteQuietly(work);
    }
    Map<Fuzzer.Outcome, Integer> counts = new EnumMap<>(Fuzzer.Outcome.class);
    Set<Fuzzer.Kind> kinds = new HashSet<>();
    List<Fuzzer.Result> offenders = new ArrayList<>();
    for (Fuzzer.Result r : results) {
      counts.merge(r.outcome(), 1, Integer::sum);
      kinds.add(r.kind());
      if (r.outcome() != Fuzzer.Outcome.OK && r.outcome() != Fuzzer.Outcome.TYPED) {
        offenders.add(r);
      }
    }
    System.out.printf(
        "fuzz quick: %d cases, %d ok, %d typed, %d offenders, %.1f s%n",
        results.size(),
        counts.getOrDefault(Fuzzer.Outcome.OK, 0),
        counts.getOrDefault(Fuzzer.Outcome.TYPED, 0),
        offenders.size(),
        (System.nanoTime() - t0) / 1e9);
    results
        .subList(results.size() - mustBeTyped.size() - 2, results.size())
        .forEach(r -> System.out.println("hand-made " + r));
    offenders.forEach(r -> System.out.println("OFFENDER " + r));
    assertEquals(Set.of(Fuzzer.Kind.values()), kinds, "every kind covered");
    assertTrue(offenders.isEmpty(), "offenders:\n" + offenders);
    for (Fuzzer.Result r : mustBeTyped) {
      assertEquals(Fuzzer.Outcome.TYPED, r.outcome(), r.toString());
    }
  }

  /**
   * The first seeds (counting from 0) of each kind, each on a fixture not yet used for that kind:
   * fixed, and spread over the fixtures.
   */
  private static List<Long> seeds(Fuzzer f) {
    Map<Fuzzer.Kind, Set<String>> taken = new EnumMap<>(Fuzzer.Kind.class);
    List<Long> seeds = new ArrayList<>();
    for (long s = 0; s < 100_000; s++) {
      Fuzzer.Kind k = f.kindOf(s);
      String fx = f.fixtureOf(s);
      Set<String> t = taken.computeIfAbsent(k, x -> new HashSet<>());
      int quota = k == Fuzzer.Kind.DEEP_CHAIN ? DEEP_CHAIN_SEEDS : SEEDS_PER_KIND;
      if (!fx.equals(SKIPPED_FIXTURE) && t.size() < quota && t.add(fx)) {
        seeds.add(s);
      }
    }
    return seeds;
  }

  private static Fuzzer.Result truncatedPb(Fuzzer f) {
    Map<String, byte[]> files = f.original(FIXTURE);
    byte[] pb = files.get("saved_model.pb");
    files.put("saved_model.pb", Arrays.copyOf(pb, pb.length / 2));
    return f.runFiles(-1, FIXTURE, Fuzzer.Kind.TRUNCATE, "saved_model.pb cut in half", files);
  }

  /**
   * Seed 1002881 of the long run: six 0xff bytes make a huge string length, which protobuf's stream
   * decoder reported as IllegalStateException.
   */
  private static Fuzzer.Result ffRunInPb(Fuzzer f) {
    String fixture = "tf2-module-half-plus-two";
    Map<String, byte[]> files = f.original(fixture);
    Arrays.fill(files.get("saved_model.pb"), 21376, 21382, (byte) 0xff);
    return f.runFiles(-8, fixture, Fuzzer.Kind.BYTE_RUN, "6 bytes 0xff at 21376", files);
  }

  private static AttrValue floatList() {
    return AttrValue.newBuilder()
        .setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
        .build();
  }

  /** F(x) = F(x) (or F = G, G = F), called in front of the signature output. */
  private static Fuzzer.Result recursion(Fuzzer f, boolean mutual) {
    Map<String, byte[]> files = f.original(FIXTURE);
    String what =
        Fuzzer.editPb(
            files,
            new Random(0),
            (mg, r) -> {
              String[][] calls =
                  mutual ? new String[][] {{"F", "G"}, {"G", "F"}} : new String[][] {{"F", "F"}};
              for (String[] c : calls) {
                FunctionDef.Builder fn = FunctionDef.newBuilder();
                fn.getSignatureBuilder()
                    .setName(c[0])
                    .addInputArg(OpDef.ArgDef.newBuilder().setName("x").setType(DataType.DT_FLOAT))
                    .addOutputArg(
                        OpDef.ArgDef.newBuilder().setName("y").setType(DataType.DT_FLOAT));
                fn.addNodeDef(call("call", "x", c[1]));
                fn.putRet("y", "call:output:0");
                mg.getGraphDefBuilder().getLibraryBuilder().addFunction(fn);
              }
              return reroute(mg, call("__rec", outputTensor(mg), "F"));
            });
    return f.runFiles(-2 - (mutual ? 1 : 0), FIXTURE, Fuzzer.Kind.SELF_CALL, what, files);
  }

  private static NodeDef.Builder call(String name, String input, String fn) {
    return NodeDef.newBuilder()
        .setName(name)
        .setOp("PartitionedCall")
        .addInput(input)
        .putAttr("f", Fuzzer.func(fn))
        .putAttr("Tin", floatList())
        .putAttr("Tout", floatList());
  }

  private static String outputTensor(MetaGraphDef.Builder mg) {
    SignatureDef sig = mg.getSignatureDefMap().get("serving_default");
    return sig.getOutputsMap().values().iterator().next().getName();
  }

  /** Adds the node and makes it the serving_default output. */
  private static String reroute(MetaGraphDef.Builder mg, NodeDef.Builder n) {
    mg.getGraphDefBuilder().addNode(n);
    SignatureDef.Builder sig = mg.getSignatureDefMap().get("serving_default").toBuilder();
    String out = sig.getOutputsMap().keySet().iterator().next();
    TensorInfo ti = sig.getOutputsMap().get(out);
    sig.putOutputs(out, ti.toBuilder().setName(n.getName() + ":0").build());
    mg.putSignatureDef("serving_default", sig.build());
    return n.getOp() + " " + n.getName() + " before serving_default/" + out;
  }

  /** A [100000, 100000] float Const (40 GB, one splatted value) added to the output. */
  private static Fuzzer.Result hugeConst(Fuzzer f) {
    Map<String, byte[]> files = f.original(FIXTURE);
    String what =
        Fuzzer.editPb(
            files,
            new Random(0),
            (mg, r) -> {
              TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT);
              t.getTensorShapeBuilder()
                  .addDim(TensorShapeProto.Dim.newBuilder().setSize(100_000))
                  .addDim(TensorShapeProto.Dim.newBuilder().setSize(100_000));
              t.addFloatVal(1f);
              mg.getGraphDefBuilder()
                  .addNode(
                      NodeDef.newBuilder()
                          .setName("__huge")
                          .setOp("Const")
                          .putAttr("dtype", F32)
                          .putAttr("value", AttrValue.newBuilder().setTensor(t).build()));
              return reroute(
                  mg,
                  NodeDef.newBuilder()
                      .setName("__huge_add")
                      .setOp("AddV2")
                      .addInput(outputTensor(mg))
                      .addInput("__huge")
                      .putAttr("T", F32));
            });
    return f.runFiles(-4, FIXTURE, Fuzzer.Kind.HUGE_ALLOC, what, files);
  }

  /** A -> B -> A in front of the output. */
  private static Fuzzer.Result cycle(Fuzzer f) {
    Map<String, byte[]> files = f.original(FIXTURE);
    String what =
        Fuzzer.editPb(
            files,
            new Random(0),
            (mg, r) -> {
              GraphDef.Builder g = mg.getGraphDefBuilder();
              g.addNode(
                  NodeDef.newBuilder()
                      .setName("__cyc_a")
                      .setOp("AddV2")
                      .addInput(outputTensor(mg))
                      .addInput("__cyc_b")
                      .putAttr("T", F32));
              return reroute(
                  mg,
                  NodeDef.newBuilder()
                      .setName("__cyc_b")
                      .setOp("Relu")
                      .addInput("__cyc_a")
                      .putAttr("T", F32));
            });
    return f.runFiles(-5, FIXTURE, Fuzzer.Kind.GRAPH_CYCLE, what, files);
  }

  /** 10^5 Relu nodes in a row in front of the output. */
  private static Fuzzer.Result deepChain(Fuzzer f) {
    Map<String, byte[]> files = f.original(FIXTURE);
    String what =
        Fuzzer.editPb(
            files,
            new Random(0),
            (mg, r) -> {
              String prev = outputTensor(mg);
              for (int i = 0; i < 99_999; i++) {
                mg.getGraphDefBuilder()
                    .addNode(
                        NodeDef.newBuilder()
                            .setName("__chain_" + i)
                            .setOp("Relu")
                            .addInput(prev)
                            .putAttr("T", F32));
                prev = "__chain_" + i;
              }
              return reroute(
                  mg,
                  NodeDef.newBuilder()
                      .setName("__chain_end")
                      .setOp("Relu")
                      .addInput(prev)
                      .putAttr("T", F32));
            });
    return f.runFiles(-6, FIXTURE, Fuzzer.Kind.DEEP_CHAIN, what, files);
  }

  /** All values of a weight the output reads NaN/Inf/huge (with a valid checksum). */
  private static Fuzzer.Result nanWeights(Fuzzer f) {
    // the Random picks the tensor and "all or 10%": take the first draw that hits all of a kernel
    for (int s = 0; ; s++) {
      Map<String, byte[]> files = f.original(FIXTURE);
      String what = Fuzzer.nanWeights(files, new Random(s));
      if (what.startsWith("all") && what.contains("kernel") && !what.contains("OPTIMIZER")) {
        return f.runFiles(-7, FIXTURE, Fuzzer.Kind.NAN_WEIGHTS, what, files);
      }
    }
  }
}
