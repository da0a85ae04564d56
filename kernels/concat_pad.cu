// concat_pad.cu — data movement: concatenation slices and constant padding (and their gradients).
//
//   concat_copy  the tensor viewed as (outer, axis, inner); part (outer,inAxis,inner) is the slice
//                [offset, offset+inAxis) of big (outer,outAxis,inner). backward 0: big[slice] =
//                part (forward); backward 1: part = big[slice] (the gradient of one input)
//   pad_fwd      out = value everywhere, x placed at before (p0..p3)
//   pad_bwd      dx = the window of dy at before (p0..p3) (also the crop after a convolution
//                run with symmetric padding where TensorFlow's was asymmetric)
//
// Shapes: rank-4 padded (left with 1); pad_fwd x (x0..x3) -> out (o0..o3); pad_bwd dy (y0..y3)
// -> dx (x0..x3). pad_bwd's dy may have 2^31 elements or more (the host bounds only dx, the loop's
// range): it is indexed in 64 bits.
//
// Launch: one thread per element of part / out / dx, block 256, grid-stride,
// grid = min(ceil(total/256), 65535) (CudaGraphOps). Copies only: results are bit-exact.
// Twins: dev.segcam.kernels.LayoutKernels.concat_copy / pad_fwd / pad_bwd.
#include "common.cuh"

// Concatenation as strided block copies: the tensor viewed as (outer, axis, inner); input k of
// axis length inAxis sits at [offset, offset+inAxis) of the output's outAxis. backward == 0:
// big[...] = part[...] (forward); backward == 1: part[...] = big[...] (the gradient slice).
extern "C" __global__ void concat_copy(float* big, float* part, int outer, int inAxis, int inner,
                                       int outAxis, int offset, int backward) {
  int total = outer * inAxis * inner;
  GRID_STRIDE(i, total) {
    int in = i % inner;
    int r = i / inner;
    int a = r % inAxis;
    int o = r / inAxis;
    size_t j = ((size_t)o * outAxis + offset + a) * inner + in;
    if (backward) {
      part[i] = big[j];
    } else {
      big[j] = part[i];
    }
  }
}

// Constant padding, rank-4 padded: out (o0..o3) from x (x0..x3) placed at before (p0..p3).
extern "C" __global__ void pad_fwd(float* out, const float* x, float value, int o0, int o1,
                                   int o2, int o3, int x0, int x1, int x2, int x3, int p0, int p1,
                                   int p2, int p3) {
  int total = o0 * o1 * o2 * o3;
  GRID_STRIDE(i, total) {
    int c3 = i % o3 - p3;
    int r = i / o3;
    int c2 = r % o2 - p2;
    r /= o2;
    int c1 = r % o1 - p1;
    int c0 = r / o1 - p0;
    bool in = c0 >= 0 && c0 < x0 && c1 >= 0 && c1 < x1 && c2 >= 0 && c2 < x2 && c3 >= 0 && c3 < x3;
    out[i] = in ? x[((c0 * x1 + c1) * x2 + c2) * x3 + c3] : value;
  }
}

// Its data gradient (also the crop after an asymmetric-padded convolution): dx (x0..x3) =
// the window of dy (y0..y3) starting at before (p0..p3).
extern "C" __global__ void pad_bwd(float* dx, const float* dy, int x0, int x1, int x2, int x3,
                                   int y0, int y1, int y2, int y3, int p0, int p1, int p2,
                                   int p3) {
  int total = x0 * x1 * x2 * x3;
  GRID_STRIDE(i, total) {
    int c3 = i % x3;
    int r = i / x3;
    int c2 = r % x2;
    r /= x2;
    int c1 = r % x1;
    int c0 = r / x1;
    // dy is larger than dx and may exceed 2^31 elements (the host bounds only dx): 64-bit index
    dx[i] = dy[(((size_t)(c0 + p0) * y1 + c1 + p1) * y2 + c2 + p2) * y3 + c3 + p3];
  }
}
