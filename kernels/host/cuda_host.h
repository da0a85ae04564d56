// cuda_host.h — compiles our kernels/*.cu for the host with g++ (-std=c++20 -pthread), so that a
// test can run each kernel's own source on random inputs against its Java twin without a GPU.
//
// What it models: a launch runs its blocks one after another; a block runs as blockDim std::threads
// (one per CUDA thread), kept for the whole launch. threadIdx/blockIdx are thread_local;
// __shared__ is `static` (one block at a time, so per-block storage); __syncthreads() is a
// std::barrier over the block; a warp shuffle writes to a per-warp slot array between two barriers
// of that warp. A thread that returns early leaves its block's and warp's barriers (arrive_and_drop),
// as an exited CUDA thread no longer counts at __syncthreads.
// What it does not model: PTX, the memory hierarchy, launch limits, -fmad=false (g++ is run with
// -ffp-contract=off for the same effect), or the CUDA math library (glibc's exp/tanh/expm1 here).
#pragma once

#include <algorithm>
#include <array>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

namespace segcam_host {

struct Warp {
  explicit Warp(int n) : size(n), bar(n) {}
  int size;
  std::barrier<> bar;
  std::array<uint64_t, 32> slot{};
};

struct Block {
  explicit Block(int threads) : sync(threads) {
    for (int w = 0; w * 32 < threads; w++) {
      warps.push_back(std::make_unique<Warp>(std::min(32, threads - w * 32)));
    }
  }
  std::barrier<> sync;
  std::vector<std::unique_ptr<Warp>> warps;
};

inline thread_local Block* tl_block = nullptr;

}  // namespace segcam_host

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

inline void __syncthreads() { segcam_host::tl_block->sync.arrive_and_wait(); }

template <class T>
inline T __shfl_down_sync(unsigned /*mask: our kernels always pass the full warp*/, T v, int off) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
  unsigned lin = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  segcam_host::Warp& w = *segcam_host::tl_block->warps[lin / 32];
  int lane = (int)(lin % 32);
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  w.slot[lane] = bits;
  w.bar.arrive_and_wait();
  T r = v;
  if (lane + off < w.size) std::memcpy(&r, &w.slot[lane + off], sizeof(T));
  w.bar.arrive_and_wait();
  return r;
}

// CUDA's integer min/max and bit casts.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline double __longlong_as_double(long long i) {
  double d;
  std::memcpy(&d, &i, 8);
  return d;
}

namespace segcam_host {

// Runs body() as the kernel grid grid × block: blocks in order (x fastest), each block as its
// blockDim threads. A new Block (barriers) per block, swapped in while all threads wait.
inline void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  gridDim = grid;
  blockDim = block;
  const int threads = (int)(block.x * block.y * block.z);
  const long long blocks = (long long)grid.x * grid.y * grid.z;
  if (threads <= 0 || blocks <= 0) return;
  std::unique_ptr<Block> current = std::make_unique<Block>(threads);
  long long b = 0;
  auto next = [&]() noexcept {
    b++;
    if (b < blocks) current = std::make_unique<Block>(threads);
  };
  std::barrier<decltype(next)> end(threads, next);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; t++) {
    pool.emplace_back([&, t]() {
      threadIdx.x = t % block.x;
      threadIdx.y = (t / block.x) % block.y;
      threadIdx.z = t / (block.x * block.y);
      while (true) {
        long long mine = b;  // stable: b changes only in the completion step of `end`
        if (mine >= blocks) break;
        blockIdx.x = (unsigned)(mine % grid.x);
        blockIdx.y = (unsigned)((mine / grid.x) % grid.y);
        blockIdx.z = (unsigned)(mine / ((long long)grid.x * grid.y));
        Block* blk = current.get();
        tl_block = blk;
        body();
        blk->warps[t / 32]->bar.arrive_and_drop();
        blk->sync.arrive_and_drop();
        end.arrive_and_wait();
      }
    });
  }
  for (auto& th : pool) th.join();
}

}  // namespace segcam_host
