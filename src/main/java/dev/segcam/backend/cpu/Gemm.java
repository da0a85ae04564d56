package dev.segcam.backend.cpu;

/**
 * Row-major single-precision matrix multiply, blocked for cache and written so that HotSpot's C2
 * auto-vectorizes the inner loop.
 *
 * <p>Why it looks the way it does (measured on JDK 17, AVX2): C2's SuperWord only vectorizes a loop
 * whose loads and stores use the plain index {@code j} of distinct arrays (an invariant offset such
 * as {@code c[off + j]} next to a load from another float[] kills it), and it gives up on loops
 * with more than about four independent loads plus a store. So the micro-kernel updates ONE row of
 * C held in a private row buffer, four k-steps at a time, from four rows of a packed B panel that
 * are each their own float[]: {@code ct[j] =
 * fma(a3,b3[j],fma(a2,b2[j],fma(a1,b1[j],fma(a0,b0[j],ct[j]))))}. That is 5 loads + 1 store per 4
 * vector FMAs. Math.fma vectorizes to vfmadd and measured ~20% faster than mul+add. The B panel (KC
 * x NB) is sized to stay in L1/L2 while every row of A streams past it.
 *
 * <p>Tried and dropped: a two-row kernel (each b load feeding two FMAs) runs ~30% faster in a
 * method of its own, but C2 stops vectorizing it as soon as it shares a compilation unit with any
 * other loop nest (inlined into {@code block}, or next to a one-row remainder loop): 30 -> 8
 * GFLOP/s. Three or four rows, or eight k-steps, never vectorize with default flags.
 *
 * <p>The core is shared with the convolutions: B panels come from a {@link PanelB} (a matrix, or
 * im2col built on the fly, never materialized) and finished row pieces go to a {@link Sink} (a
 * matrix, or a transposed NHWC write).
 */
public final class Gemm {
  /** Depth of a packed B panel (k rows). Multiple of 4. */
  static final int KC = Integer.getInteger("segcam.gemm.kc", 128);

  /** Width of a packed B panel (columns). */
  static final int NB = Integer.getInteger("segcam.gemm.nb", 512);

  /** Below this many multiply-adds a call runs on the calling thread. */
  private static final long SERIAL_FLOPS = 1L << 16;

  private Gemm() {}

  /** Fills the packed panel bp[kk][0..nc) = B[pc+kk][jc+j] for kk < kc. */
  @FunctionalInterface
  interface PanelB {
    void pack(int pc, int kc, int jc, int nc, float[][] bp);
  }

  /**
   * Takes a finished block of C: rows[i - i0][j] is C[i][jc + j] for i0 <= i < i1, j < nc, to be
   * added to the destination. Called once per block, after the whole k range.
   */
  @FunctionalInterface
  interface Sink {
    void add(int i0, int i1, int jc, int nc, float[][] rows);
  }

  /**
   * The sink of the channel-major convolutions: C rows are channels, columns pixels, written into
   * an NHWC array with {@code channels} values per pixel (each pixel's channels together).
   */
  // C (channels, pixels) -> out (pixels, channels) +=
  static Sink intoPixels(float[] out, int channels) {
    return (i0, i1, jc, nc, rows) -> {
      for (int j = 0; j < nc; j++) {
        int o = (jc + j) * channels;
        for (int i = i0; i < i1; i++) {
          out[o + i] += rows[i - i0][j];
        }
      }
    };
  }

  /**
   * Per-thread tables of the pixels of one B panel, for the im2col-style panels of the
   * convolutions: where each pixel's image starts and its (row, column) origin in the input grid.
   */
  static final class PixelTables {
    private static final ThreadLocal<PixelTables> TABLES =
        ThreadLocal.withInitial(PixelTables::new);

    final int[] base = new int[NB];
    final int[] ih = new int[NB];
    final int[] iw = new int[NB];

    static PixelTables get() {
      return TABLES.get();
    }
  }

  private static final class Scratch {
    final float[][] bp = new float[KC][NB];
    float[][] tile = new float[0][];
    // addSkippingZeros: one C row, and a row of A compacted to its non-zeros and their B rows
    float[] ct = new float[0];
    float[] av = new float[0];
    int[] ak = new int[0];

    void sparse(int n, int k) {
      if (ct.length < n) {
        ct = new float[n];
      }
      if (av.length < k) {
        av = new float[k];
        ak = new int[k];
      }
    }

    float[][] tile(int rows) {
      if (tile.length < rows) {
        float[][] t = java.util.Arrays.copyOf(tile, rows);
        for (int i = tile.length; i < rows; i++) {
          t[i] = new float[NB];
        }
        tile = t;
      }
      return tile;
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** Rounds k up to the multiple of 4 the kernel steps by. */
  static int padK(int k) {
    return (k + 3) & ~3;
  }

  /**
   * C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is m x k, op(B) is k x n, C is m x n
   * at c[cOff + i*ldc + j]. transA means A is stored k x m (element (i,p) at a[aOff + p*lda + i]);
   * likewise transB. par may be null (serial). beta == 0 overwrites C (NaNs in C do not survive).
   */
  // A (m,k) or (k,m), B (k,n) or (n,k), C (m,n)
  public static void sgemm(
      Parallel par,
      boolean transA,
      boolean transB,
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOff,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      float beta,
      float[] c,
      int cOff,
      int ldc) {
    needSizes(m, n, k);
    need("A", a, aOff, lda, transA ? k : m, transA ? m : k);
    need("B", b, bOff, ldb, transB ? n : k, transB ? k : n);
    need("C", c, cOff, ldc, m, n);
    if (m == 0 || n == 0) {
      return;
    }
    Parallel p = (long) m * n * k < SERIAL_FLOPS ? null : par;
    if (beta != 1f) {
      forRows(
          p,
          m,
          (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
              int row = cOff + i * ldc;
              if (beta == 0f) {
                java.util.Arrays.fill(c, row, row + n, 0f);
              } else {
                for (int j = 0; j < n; j++) {
                  c[row + j] *= beta;
                }
              }
            }
          });
    }
    if (k == 0 || alpha == 0f) {
      return;
    }
    int kp = padK(k);
    float[] ap = new float[m * kp];
    forRows(
        p,
        m,
        (lo, hi) -> {
          for (int i = lo; i < hi; i++) {
            int dst = i * kp;
            if (!transA) {
              int src = aOff + i * lda;
              for (int q = 0; q < k; q++) {
                ap[dst + q] = alpha * a[src + q];
              }
            } else {
              for (int q = 0; q < k; q++) {
                ap[dst + q] = alpha * a[aOff + q * lda + i];
              }
            }
          }
        });
    PanelB panel =
        transB
            ? transposedB(b, bOff, ldb)
            : (pc, kc, jc, nc, bp) -> {
              for (int kk = 0; kk < kc; kk++) {
                System.arraycopy(b, bOff + (pc + kk) * ldb + jc, bp[kk], 0, nc);
              }
            };
    Sink sink =
        (i0, i1, jc, nc, rows) -> {
          for (int i = i0; i < i1; i++) {
            float[] ct = rows[i - i0];
            int row = cOff + i * ldc + jc;
            for (int j = 0; j < nc; j++) {
              c[row + j] += ct[j];
            }
          }
        };
    core(p, m, n, 1, k, ap, kp, panel, sink);
  }

  /**
   * The panels of a B (k x n) stored transposed, n x k row-major: element (p, j) at b[bOff + j*ldb
   * + p] (for a convolution, pixels x channels read as channels x pixels).
   */
  static PanelB transposedB(float[] b, int bOff, int ldb) {
    return (pc, kc, jc, nc, bp) -> {
      for (int kk = 0; kk < kc; kk++) {
        float[] row = bp[kk];
        int src = bOff + jc * ldb + pc + kk;
        for (int j = 0; j < nc; j++) {
          row[j] = b[src + j * ldb];
        }
      }
    };
  }

  /**
   * C += A * B for an A with many zeros, serial (callers split the rows of C over threads). A and C
   * are row-major with offsets and leading dimensions; B is given as one float[] per row: row kk is
   * bRows[bRow0 + kk], at least n long. Zero entries of A are skipped, which pays off for data
   * gradients behind a ReLU or a zero-padded im2col row: each row of A is compacted to its non-zero
   * entries, and {@link #sparseRowKernel} runs over the B rows they pick.
   */
  // A (m,k), B rows [bRow0, bRow0+k) each (n), C (m,n)
  public static void addSkippingZeros(
      int m,
      int n,
      int k,
      float[] a,
      int aOff,
      int lda,
      float[][] bRows,
      int bRow0,
      float[] c,
      int cOff,
      int ldc) {
    needSizes(m, n, k);
    need("A", a, aOff, lda, m, k);
    need("C", c, cOff, ldc, m, n);
    if (bRow0 < 0 || bRow0 + k > bRows.length) {
      throw new IllegalArgumentException(
          "B rows [" + bRow0 + ", " + (bRow0 + k) + ") outside its " + bRows.length + " rows");
    }
    Scratch s = SCRATCH.get();
    s.sparse(n, k);
    float[] ct = s.ct;
    float[] av = s.av;
    int[] ak = s.ak;
    for (int i = 0; i < m; i++) {
      int aRow = aOff + i * lda;
      int nz = 0;
      for (int kk = 0; kk < k; kk++) {
        float v = a[aRow + kk];
        if (v != 0f) {
          av[nz] = v;
          ak[nz++] = bRow0 + kk;
        }
      }
      if (nz == 0) {
        continue;
      }
      java.util.Arrays.fill(ct, 0, n, 0f);
      sparseRowKernel(n, nz, av, ak, bRows, ct);
      int cRow = cOff + i * ldc;
      for (int j = 0; j < n; j++) {
        c[cRow + j] += ct[j];
      }
    }
  }

  /**
   * ct[j] += sum_{q < nz} av[q] * bRows[ak[q]][j]: {@link #rowKernel} over picked B rows. Kept a
   * method of its own, measured: C2 sizes a loop's unrolling by the trip counts profiled for its
   * method, so with the forward's kernel (rows of up to NB = 512) the short rows here (a layer's
   * channels, often 32) ran ~20% slower on a stride-2 32-channel conv gradient (likely left in the
   * scalar post-loop). Feeding that kernel the picked rows as a float[][] padded to a multiple of 4
   * instead of indices cost another ~15%.
   */
  static void sparseRowKernel(int n, int nz, float[] av, int[] ak, float[][] bRows, float[] ct) {
    int q = 0;
    for (; q + 4 <= nz; q += 4) {
      float a0 = av[q];
      float a1 = av[q + 1];
      float a2 = av[q + 2];
      float a3 = av[q + 3];
      float[] b0 = bRows[ak[q]];
      float[] b1 = bRows[ak[q + 1]];
      float[] b2 = bRows[ak[q + 2]];
      float[] b3 = bRows[ak[q + 3]];
      for (int j = 0; j < n; j++) {
        ct[j] =
            Math.fma(
                a3, b3[j], Math.fma(a2, b2[j], Math.fma(a1, b1[j], Math.fma(a0, b0[j], ct[j]))));
      }
    }
    for (; q < nz; q++) {
      float a0 = av[q];
      float[] b0 = bRows[ak[q]];
      for (int j = 0; j < n; j++) {
        ct[j] = Math.fma(a0, b0[j], ct[j]);
      }
    }
  }

  private static void forRows(Parallel p, int m, Parallel.RangeBody body) {
    if (p == null) {
      body.run(0, m);
    } else {
      p.parallelFor(m, 16, body);
    }
  }

  /**
   * C (m x images*imgCols) += Ap * B where Ap is A packed row-major with row stride kp (= padK(k),
   * zeros past k) and B arrives panel by panel. Columns come in images of imgCols each and no block
   * straddles two images (the conv panels read one image's planes). Work is split over column
   * blocks of NB, and over row chunks too when there are too few column blocks to keep every thread
   * busy (each row chunk then packs its own B panels: duplicated packing, but only k*nc values per
   * chunk).
   */
  // Ap (m,kp), B (k,n) -> C (m,n) via sink
  static void core(
      Parallel par,
      int m,
      int imgCols,
      int images,
      int k,
      float[] ap,
      int kp,
      PanelB panel,
      Sink sink) {
    int perImage = (imgCols + NB - 1) / NB;
    int colBlocks = perImage * images;
    int threads = par == null ? 1 : par.threads();
    int rowChunks = 1;
    if (colBlocks < 2 * threads) {
      rowChunks = Math.max(1, Math.min((2 * threads + colBlocks - 1) / colBlocks, m / 8));
    }
    int rowSize = (m + rowChunks - 1) / rowChunks;
    int rc = rowChunks;
    int tasks = colBlocks * rowChunks;
    Parallel.RangeBody body =
        (lo, hi) -> {
          Scratch s = SCRATCH.get();
          for (int t = lo; t < hi; t++) {
            int blk = t / rc;
            int img = blk / perImage;
            int jc = img * imgCols + (blk - img * perImage) * NB;
            int nc = Math.min(NB, (img + 1) * imgCols - jc);
            int i0 = (t % rc) * rowSize;
            int i1 = Math.min(m, i0 + rowSize);
            if (i0 < i1) {
              block(i0, i1, jc, nc, k, ap, kp, panel, sink, s);
            }
          }
        };
    if (par == null) {
      body.run(0, tasks);
    } else {
      par.parallelFor(tasks, 1, body);
    }
  }

  private static void block(
      int i0,
      int i1,
      int jc,
      int nc,
      int k,
      float[] ap,
      int kp,
      PanelB panel,
      Sink sink,
      Scratch s) {
    float[][] bp = s.bp;
    float[][] tile = s.tile(i1 - i0);
    for (int i = i0; i < i1; i++) {
      java.util.Arrays.fill(tile[i - i0], 0, nc, 0f);
    }
    for (int pc = 0; pc < k; pc += KC) {
      int kc = Math.min(KC, k - pc);
      int kc4 = padK(kc);
      panel.pack(pc, kc, jc, nc, bp);
      for (int kk = kc; kk < kc4; kk++) {
        java.util.Arrays.fill(bp[kk], 0, nc, 0f);
      }
      for (int i = i0; i < i1; i++) {
        rowKernel(nc, kc4, ap, i * kp + pc, bp, tile[i - i0]);
      }
    }
    sink.add(i0, i1, jc, nc, tile);
  }

  /** ct[j] += sum_{kk < kc4} a[aOff+kk] * bp[kk][j]; kc4 a multiple of 4. */
  static void rowKernel(int nc, int kc4, float[] a, int aOff, float[][] bp, float[] ct) {
    for (int kk = 0; kk < kc4; kk += 4) {
      float a0 = a[aOff + kk];
      float a1 = a[aOff + kk + 1];
      float a2 = a[aOff + kk + 2];
      float a3 = a[aOff + kk + 3];
      float[] b0 = bp[kk];
      float[] b1 = bp[kk + 1];
      float[] b2 = bp[kk + 2];
      float[] b3 = bp[kk + 3];
      for (int j = 0; j < nc; j++) {
        ct[j] =
            Math.fma(
                a3, b3[j], Math.fma(a2, b2[j], Math.fma(a1, b1[j], Math.fma(a0, b0[j], ct[j]))));
      }
    }
  }

  private static void needSizes(int m, int n, int k) {
    if (m < 0 || n < 0 || k < 0) {
      throw new IllegalArgumentException("negative gemm size m=" + m + " n=" + n + " k=" + k);
    }
  }

  private static void need(String name, float[] x, int off, int ld, int rows, int cols) {
    if (rows == 0 || cols == 0) {
      return;
    }
    if (ld < cols) {
      throw new IllegalArgumentException(
          "leading dimension of " + name + " is " + ld + " < its " + cols + " columns");
    }
    long last = (long) off + (long) (rows - 1) * ld + cols;
    if (off < 0 || last > x.length) {
      throw new IllegalArgumentException(
          name
              + " ("
              + rows
              + "x"
              + cols
              + ", offset "
              + off
              + ", ld "
              + ld
              + ") does not fit its array of "
              + x.length);
    }
  }
}
