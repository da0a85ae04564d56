package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.CpuBackwardConv;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Padding;
import dev.segcam.kernels.ConvGeometry;
import java.util.Arrays;
import java.util.Random;

/**
 * Ad-hoc timing of the conv data gradient (a program, not a test): GFLOP/s per config, in thread
 * CPU time (the build machine is shared) so use threads = 1.
 */
public final class ConvGradBench {
  private ConvGradBench() {}

  public static void main(String[] args) {
    int h = Integer.parseInt(args.length > 0 ? args[0] : "128");
    int c = Integer.parseInt(args.length > 1 ? args[1] : "32");
    int f = Integer.parseInt(args.length > 2 ? args[2] : "32");
    double zeros = Double.parseDouble(args.length > 3 ? args[3] : "0.5");
    int threads = Integer.parseInt(args.length > 4 ? args[4] : "1");
    Random rnd = new Random(1);
    float[] dy = new float[h * h * f];
    for (int i = 0; i < dy.length; i++) {
      dy[i] = rnd.nextDouble() < zeros ? 0f : (float) rnd.nextGaussian();
    }
    float[] filt = new float[9 * c * f];
    for (int i = 0; i < filt.length; i++) {
      filt[i] = (float) rnd.nextGaussian();
    }
    ConvGeometry g =
        ConvGeometry.forward(
            1, h, h, c, f, 1, new ConvGeometry.Window(3, 3, 1, 1, 1, 1), Padding.SAME);
    Parallel par = new Parallel(threads);
    double flops = 2.0 * h * h * 9 * c * f;
    java.lang.management.ThreadMXBean cpu =
        java.lang.management.ManagementFactory.getThreadMXBean();
    double[] t = new double[7];
    double[] u = new double[7];
    for (int r = 0; r < t.length; r++) {
      long t0 = cpu.getCurrentThreadCpuTime();
      ConvGrad.conv2dDataPixelMajor(dy, filt, g, par);
      t[r] = (cpu.getCurrentThreadCpuTime() - t0) / 1e6;
      t0 = cpu.getCurrentThreadCpuTime();
      CpuBackwardConv.conv2dData(par, dy, filt, g);
      u[r] = (cpu.getCurrentThreadCpuTime() - t0) / 1e6;
    }
    Arrays.sort(t);
    Arrays.sort(u);
    System.out.printf(
        "conv data grad %dx%d C=%d F=%d zeros=%.2f threads=%d: pixel-major %.2f ms (%.2f GFLOP/s),"
            + " channel-major %.2f ms (%.2f GFLOP/s)%n",
        h,
        h,
        c,
        f,
        zeros,
        threads,
        t[t.length / 2],
        flops / t[t.length / 2] / 1e6,
        u[u.length / 2],
        flops / u[u.length / 2] / 1e6);
    par.close();
  }
}
