package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.segcam.backend.CamTensor;
import dev.segcam.backend.ForwardingCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Explaining from 8 threads at once gives, element for element and bit for bit, the results of the
 * same calls made one after another on one explainer: through an {@link ExplainerPool} (with as
 * many and with fewer explainers than threads) and through 8 separate explainers. Every call
 * differs (fresh random images, batch, targets, score modes, regions, layers, methods), so a result
 * served from another call's state cannot pass.
 *
 * <p>Why bitwise: the CPU engine computes every output element in a fixed order for a given thread
 * count (each parallel chunk owns its outputs; no cross-thread reductions), so equal inputs give
 * equal bits. All explainers here use the same thread count as the sequential reference (measured:
 * 1 and 2 engine threads also give the same bits on this model).
 *
 * <p>Can the check fail? One CPU explainer shared by the 8 threads also passes it (measured): the
 * CPU backend keeps no per-call state in fields, and the engines' scratch buffers are per thread.
 * The documented contract stays one explainer per thread (a device backend holds one stream and
 * arena), so {@link #checkCatchesABackendWithPerCallStateSharedBetweenThreads} is the control: a
 * backend with per-call state, shared, fails the check; one per explainer in a pool, passes.
 */
class ConcurrencyTest {
  private static final Path MODEL = Path.of("weights/scene-unet");
  private static final int THREADS = 8;
  private static final int CALLS_PER_THREAD = 3;
  private static final int CALLS = THREADS * CALLS_PER_THREAD;

  /** Engine threads of every explainer (2 exercises the engines' own pools under contention). */
  private static final int ENGINE_THREADS = 2;

  private static Graph graph;
  private static List<Call> calls;
  private static List<List<CamResult>> reference;
  private static ExecutorService executor;

  /** One explain request. */
  record Call(FloatTensor images, List<Target> targets, List<String> layers, CamMethod method) {
    List<CamResult> run(Explainer ex) {
      return ex.explain(images, targets, layers, method);
    }
  }

  @BeforeAll
  static void setUp() {
    graph = SavedModelImporter.load(MODEL).graph();
    long seed = RandomTensors.freshSeed("ConcurrencyTest");
    Random rng = new Random(seed);
    List<String> layers = new ArrayList<>();
    for (Node n : graph.nodes()) {
      if (n.op() instanceof Op.Activation && n.shape().rank() == 4) {
        layers.add(n.name());
      }
    }
    assertTrue(layers.size() >= 4, "scene-unet has ReLU layers: " + layers);
    CamMethod[] methods = CamMethod.values();
    calls = new ArrayList<>();
    for (int i = 0; i < CALLS; i++) {
      int n = 1 + rng.nextInt(2);
      FloatTensor img = RandomTensors.image(rng, n, 64, 64, 3);
      List<Target> ts = new ArrayList<>();
      int k = 1 + rng.nextInt(2);
      for (int t = 0; t < k; t++) {
        int c = rng.nextInt(4);
        int x0 = rng.nextInt(48);
        int y0 = rng.nextInt(48);
        Target tg =
            rng.nextBoolean()
                ? Target.image(c)
                : Target.box(c, x0, y0, x0 + 4 + rng.nextInt(12), y0 + 4 + rng.nextInt(12));
        ts.add(tg.withScore(rng.nextBoolean() ? ScoreMode.LOGITS : ScoreMode.PROBABILITIES));
      }
      List<String> ls = new ArrayList<>();
      ls.add(layers.get(rng.nextInt(layers.size())));
      if (rng.nextBoolean()) {
        ls.add(layers.get(rng.nextInt(layers.size())));
      }
      calls.add(new Call(img, ts, ls, methods[i % methods.length]));
    }
    reference = new ArrayList<>();
    try (Explainer ex = newExplainer()) {
      for (Call c : calls) {
        reference.add(c.run(ex));
      }
    }
    executor = Executors.newFixedThreadPool(THREADS);
  }

  @AfterAll
  static void tearDown() {
    executor.shutdownNow();
  }

  private static Explainer newExplainer() {
    return new Explainer(CpuCamBackend.create(graph, ENGINE_THREADS));
  }

  @Test
  void poolOfEightServesEightThreadsLikeSequentialCalls() throws Exception {
    try (ExplainerPool pool = ExplainerPool.cpu(graph, THREADS, ENGINE_THREADS, null)) {
      check(
          t -> call -> pool.explain(call.images(), call.targets(), call.layers(), call.method()),
          "pool of 8");
      assertTrue(pool.created() <= THREADS, "made " + pool.created() + " explainers");
    }
  }

  @Test
  void poolOfThreeServesEightThreadsLikeSequentialCalls() throws Exception {
    try (ExplainerPool pool = ExplainerPool.cpu(graph, 3, ENGINE_THREADS, null)) {
      check(
          t -> call -> pool.explain(call.images(), call.targets(), call.layers(), call.method()),
          "pool of 3");
      assertTrue(pool.created() <= 3, "made " + pool.created() + " explainers, size 3");
    }
  }

  @Test
  void eightSeparateExplainersLikeSequentialCalls() throws Exception {
    List<Explainer> own = new ArrayList<>();
    try {
      for (int t = 0; t < THREADS; t++) {
        own.add(newExplainer());
      }
      check(t -> call -> call.run(own.get(t)), "8 separate explainers");
    } finally {
      own.forEach(Explainer::close);
    }
  }

  /**
   * THREADS threads, released together by a barrier, each runs CALLS_PER_THREAD calls (thread t:
   * calls t, t+8, ..., in reverse on odd threads) through what {@code runner} gives it; every
   * result must equal the reference bit for bit.
   */
  private static void check(IntFunction<Runner> runner, String what) throws Exception {
    CyclicBarrier start = new CyclicBarrier(THREADS);
    AtomicInteger done = new AtomicInteger();
    List<Future<List<String>>> futures = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int tt = t;
      futures.add(
          executor.submit(
              () -> {
                Runner r = runner.apply(tt);
                List<String> bad = new ArrayList<>();
                start.await(60, TimeUnit.SECONDS);
                for (int j = 0; j < CALLS_PER_THREAD; j++) {
                  int jj = tt % 2 == 0 ? j : CALLS_PER_THREAD - 1 - j;
                  int i = tt + THREADS * jj;
                  String diff = compare(reference.get(i), r.run(calls.get(i)));
                  if (diff != null) {
                    bad.add(what + ", thread " + tt + ", call " + i + ": " + diff);
                  }
                  done.incrementAndGet();
                }
                return bad;
              }));
    }
    List<String> bad = new ArrayList<>();
    for (Future<List<String>> f : futures) {
      bad.addAll(f.get(300, TimeUnit.SECONDS));
    }
    assertEquals(CALLS, done.get(), what + ": every call ran");
    if (!bad.isEmpty()) {
      fail(bad.size() + " call(s) differ from the sequential run:\n" + String.join("\n", bad));
    }
  }

  @FunctionalInterface
  interface Runner {
    List<CamResult> run(Call call);
  }

  /** null when equal bit for bit, else the first differences. */
  private static String compare(List<CamResult> ref, List<CamResult> got) {
    if (ref.size() != got.size()) {
      return got.size() + " results, reference has " + ref.size();
    }
    StringBuilder b = new StringBuilder();
    for (int r = 0; r < ref.size(); r++) {
      CamResult a = ref.get(r);
      CamResult z = got.get(r);
      String at = "result " + r + " (layer " + a.layer() + ", " + a.method() + ")";
      if (!a.layer().equals(z.layer())
          || a.image() != z.image()
          || !a.target().equals(z.target())) {
        b.append(at).append(": answers another request; ");
        continue;
      }
      diff(b, at + " score", new float[] {a.score()}, new float[] {z.score()});
      diff(b, at + " raw map", a.rawMap().data(), z.rawMap().data());
      if (a.weights() != null || z.weights() != null) {
        if (a.weights() == null || z.weights() == null) {
          b.append(at).append(" weights: one side has none; ");
        } else {
          diff(b, at + " weights", a.weights(), z.weights());
        }
      }
      diff(b, at + " upsampled", a.upsampled().data(), z.upsampled().data());
      diff(b, at + " heatmap", a.heatmap().data(), z.heatmap().data());
      if (!java.util.Arrays.equals(a.predicted().classes(), z.predicted().classes())) {
        b.append(at).append(" predicted labels differ; ");
      }
    }
    return b.length() == 0 ? null : b.toString();
  }

  // every element compared as raw bits (NaN == NaN of the same payload, -0 != +0)
  private static void diff(StringBuilder b, String what, float[] ref, float[] got) {
    if (ref.length != got.length) {
      b.append(what).append(": ").append(got.length).append(" values, reference ");
      b.append(ref.length).append("; ");
      return;
    }
    int shown = 0;
    int bad = 0;
    for (int i = 0; i < ref.length; i++) {
      if (Float.floatToRawIntBits(ref[i]) != Float.floatToRawIntBits(got[i])) {
        if (shown++ < 3) {
          b.append(String.format("%s[%d] ref=%.9g got=%.9g; ", what, i, ref[i], got[i]));
        }
        bad++;
      }
    }
    if (bad > 3) {
      b.append(what).append(": ").append(bad).append(" of ").append(ref.length);
      b.append(" differ; ");
    }
  }

  /**
   * The control: a backend that keeps a per-call buffer in a field (as a device backend keeps its
   * stream and arena) breaks when one explainer over it is shared by 8 threads, and the check above
   * sees it; the same backend, one per explainer in a pool, passes.
   */
  @Test
  void checkCatchesABackendWithPerCallStateSharedBetweenThreads() throws Exception {
    try (Explainer shared = new Explainer(new RacyBackend())) {
      Throwable t =
          assertThrows(Throwable.class, () -> check(x -> c -> c.run(shared), "shared racy"));
      assertTrue(t.getMessage() != null && t.getMessage().contains("differ"), t.toString());
    }
    try (ExplainerPool pool = new ExplainerPool(THREADS, () -> new Explainer(new RacyBackend()))) {
      check(x -> c -> pool.explain(c.images(), c.targets(), c.layers(), c.method()), "racy pool");
    }
  }

  /**
   * A CPU backend whose resize hands its result through a field, with a pause in between that lets
   * another thread's call overwrite it (bounded: alone, it goes on after 100 ms).
   */
  static final class RacyBackend extends ForwardingCamBackend {
    private float[] scratch;
    private long writes;

    RacyBackend() {
      super(CpuCamBackend.create(graph, ENGINE_THREADS));
    }

    @Override
    public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
      FloatTensor up = inner.resizeBilinear(maps, outH, outW).toHost();
      long mine;
      synchronized (this) {
        scratch = up.data().clone();
        mine = ++writes;
      }
      long deadline = System.nanoTime() + 100_000_000L;
      try {
        while (System.nanoTime() < deadline) {
          synchronized (this) {
            if (writes != mine) {
              break;
            }
          }
          Thread.sleep(1);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      float[] out = up.data().clone();
      synchronized (this) {
        System.arraycopy(scratch, 0, out, 0, Math.min(out.length, scratch.length));
      }
      return CamTensor.host(new FloatTensor(up.shape(), out));
    }

    @Override
    public String name() {
      return "racy-cpu";
    }
  }

  @Test
  void leaseGivesOneExplainerToOneBorrowerAtATime() throws Exception {
    try (ExplainerPool pool = ExplainerPool.cpu(graph, 2, 1, null)) {
      ExplainerPool.Lease a = pool.borrow();
      ExplainerPool.Lease b = pool.borrow();
      assertNotSame(a.explainer(), b.explainer());
      CamException none =
          assertThrows(CamException.class, () -> pool.borrow(50, TimeUnit.MILLISECONDS));
      assertTrue(none.getMessage().contains("all 2"), none.getMessage());
      Explainer first = a.explainer();
      a.close();
      a.close(); // a second give-back does nothing
      assertThrows(CamException.class, a::explainer);
      try (ExplainerPool.Lease c = pool.borrow(1, TimeUnit.SECONDS)) {
        assertSame(first, c.explainer(), "the idle explainer is lent again, not a new one");
      }
      assertEquals(2, pool.created());
      b.close();
    }
  }

  @Test
  void closingThePoolWakesWaitersAndClosesLentExplainersOnReturn() throws Exception {
    ExplainerPool pool = ExplainerPool.cpu(graph, 1, 1, null);
    ExplainerPool.Lease lease = pool.borrow();
    Future<Throwable> waiter =
        executor.submit(
            () -> {
              try {
                pool.borrow().close();
                return null;
              } catch (CamException e) {
                return e;
              }
            });
    Thread.sleep(100);
    pool.close();
    Throwable t = waiter.get(10, TimeUnit.SECONDS);
    assertTrue(t != null && t.getMessage().contains("closed"), "waiter got " + t);
    lease.close();
    assertEquals(0, pool.created(), "the lent explainer was closed on its return");
    assertThrows(CamException.class, pool::borrow);
    pool.close(); // idempotent
  }

  @Test
  void badArgumentsAreTypedErrors() {
    assertThrows(CamException.class, () -> new ExplainerPool(0, () -> Explainer.cpu(graph)));
    assertThrows(CamException.class, () -> ExplainerPool.cpu(graph, 2, 0, null));
    assertThrows(CamException.class, () -> ExplainerPool.cpu(null, 2, 1, null));
    try (ExplainerPool pool = new ExplainerPool(2, () -> null)) {
      assertThrows(CamException.class, pool::borrow);
      assertEquals(0, pool.created());
    }
  }
}
