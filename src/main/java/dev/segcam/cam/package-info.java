/**
 * Seg-Grad-CAM: which pixels of the input make the model call a region M class c.
 *
 * <pre>
 *   S   = sum over (x,y) in M of w(x,y) * y^c(x,y)           Target: class, region M, ScoreMode
 *   g   = dS/dA for a feature layer A (N,h,w,C)              CamBackend: one forward, one backward
 *   a_c = mean over (u,v) of g_c                             CamMethod.GRAD_CAM (the one hook)
 *   L   = ReLU(sum_c a_c A_c), resized to the input, in [0,1]  CamResult
 * </pre>
 *
 * <p>{@link dev.segcam.cam.Explainer} is the one pipeline; {@link dev.segcam.cam.CamMethod}s differ
 * only in how they form the map from A and g; {@link dev.segcam.backend.CamBackend} is what an
 * engine supplies (the CPU one is {@link dev.segcam.cam.CpuCamBackend}). K targets on N images
 * share one forward, and their backward runs as one batch of N*K rows, target-major (row k*N + n).
 */
package dev.segcam.cam;
