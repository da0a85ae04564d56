/**
 * Frames in, explained frames out: {@code segcam video}.
 *
 * <pre>
 *   FrameSource ──q──▶ prepare ──q──▶ explain (N frames × K targets per call) ──q──▶ overlay ──q──▶ FrameSink
 *   image dir              resize to        forward + backward + CAM,                 EMA smoothing,     PNG sequence
 *   ffmpeg pipe            model input      fixed-scale normalisation                 colormap blend     ffmpeg pipe (mp4/avi)
 *   raw rgb24 stdin                                                                                      JSON lines
 * </pre>
 *
 * <p>Each box is one thread; each q a bounded queue ({@link dev.segcam.video.FramePipeline}). A
 * slow stage fills its input queue and blocks the stages before it, so memory is bounded and the
 * slowest stage sets the pace. Stages are single threads taking items in order, so frames leave in
 * the order they came. Every frame the source yields reaches the sink: a frame that fails (cannot
 * be decoded, cannot be explained) carries its error to the sink, is written unannotated (videos
 * keep their timeline) and is counted and listed in the run's summary. Fatal errors (a dead
 * encoder, a full disk, a closed output pipe, a class out of range) stop all threads; a dead
 * decoder ends the input, the frames it delivered are still written, then the run fails. Outputs
 * are written as {@code OUT.partial} (PNGs under a hidden temporary name each) and renamed only
 * when complete, so a file under its final name is always whole; JSON lines can also go straight to
 * a stream ({@code -}, a named pipe), where a reader that leaves is reported as a closed pipe.
 *
 * <p>When the device runs out of memory the explain stage halves its batch, says so on stderr, and
 * goes on at the smaller size (the summary reports it); at one frame it is a fatal error.
 *
 * <p>How a GPU run plugs in: the explain stage becomes three {@link dev.segcam.video.Stage}s over
 * the same queues — upload (pinned host buffers, async copy on stream A), compute (forward,
 * backward, CAM kernels on stream B, captured once as a CUDA graph per batch shape), download —
 * each with its own thread, so copies of batch i+1 overlap compute of batch i. Nothing else in the
 * pipeline changes. A latency mode is a batch size of 1 with queue capacity 1.
 */
package dev.segcam.video;
