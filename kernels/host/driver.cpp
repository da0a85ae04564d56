// driver.cpp — runs the host-compiled kernels/*.cu (through cuda_host.h) on request, for
// dev.segcam.kernels.HostCompiledKernelsTest. Built as
//   g++ -std=c++20 -pthread -ffp-contract=off -I<dir of kernels.inc> kernels/host/driver.cpp
// where kernels.inc (written by the test from the kernels/*.cu it finds) wraps each .cu in its
// own namespace and lists its kernels:
//   namespace k_seed {
//   #include "/…/kernels/seed.cu"
//   }
//   #define SEGCAM_KERNELS(X) X(k_seed, masked_score_seed) X(k_seed, masked_score_reduce) …
//
// Protocol, whitespace-separated tokens on stdin, one request after another:
//   L <kernel> <gx> <gy> <gz> <bx> <by> <bz> <nbuf> <buffer>… <argument>…
//   buffer:   f|d|i|b <n> <n values>            dense float/double/int/byte array
//             F <n> <m> <m pairs: index value>  sparse float array of n elements, the rest 0,
//                                                mapped lazily (so n may exceed 2^31) and not
//                                                sent back
//   argument: one per kernel parameter, in order: a pointer is a buffer number (-1: null), an
//             int a decimal, a float its IEEE bits in hex
//   float values are IEEE bits in hex, doubles their 64 bits in hex, ints and bytes decimal.
// Reply on stdout: "OK" and every dense buffer after the launch, one line each, same encoding;
// or "ERR <message>". "Q" ends the driver.
#include "cuda_host.h"

#include <sys/mman.h>

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels.inc"

namespace {

struct Buf {
  char type = 'f';
  size_t n = 0;
  bool sparse = false;
  std::vector<uint8_t> dense;
  void* mapped = nullptr;
  size_t mappedBytes = 0;
  void* data() { return sparse ? mapped : (void*)dense.data(); }
  ~Buf() {
    if (mapped != nullptr) munmap(mapped, mappedBytes);
  }
};

size_t elemSize(char t) { return t == 'd' ? 8 : t == 'b' ? 1 : 4; }

std::string token() {
  std::string s;
  if (!(std::cin >> s)) throw std::runtime_error("unexpected end of input");
  return s;
}
long long integer() { return std::stoll(token()); }
uint64_t hex() { return std::stoull(token(), nullptr, 16); }

void readBuf(Buf& b) {
  std::string t = token();
  b.type = t[0] == 'F' ? 'f' : t[0];
  b.n = (size_t)integer();
  if (t == "F") {
    b.sparse = true;
    b.mappedBytes = std::max<size_t>(4 * b.n, 4);
    b.mapped = mmap(nullptr, b.mappedBytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (b.mapped == MAP_FAILED) {
      b.mapped = nullptr;
      throw std::runtime_error("cannot map a sparse buffer of " + std::to_string(b.n) + " floats");
    }
    long long m = integer();
    for (long long k = 0; k < m; k++) {
      size_t idx = (size_t)integer();
      if (idx >= b.n) throw std::runtime_error("sparse index out of range");
      uint32_t bits = (uint32_t)hex();
      std::memcpy((uint8_t*)b.mapped + 4 * idx, &bits, 4);
    }
    return;
  }
  if (t != "f" && t != "d" && t != "i" && t != "b") throw std::runtime_error("bad buffer type " + t);
  b.dense.assign(b.n * elemSize(b.type), 0);
  for (size_t k = 0; k < b.n; k++) {
    uint8_t* p = b.dense.data() + k * elemSize(b.type);
    if (b.type == 'f') {
      uint32_t v = (uint32_t)hex();
      std::memcpy(p, &v, 4);
    } else if (b.type == 'd') {
      uint64_t v = hex();
      std::memcpy(p, &v, 8);
    } else if (b.type == 'i') {
      int32_t v = (int32_t)integer();
      std::memcpy(p, &v, 4);
    } else {
      *p = (uint8_t)integer();
    }
  }
}

void writeBuf(Buf& b) {
  std::string line;
  char tmp[24];
  for (size_t k = 0; k < b.n; k++) {
    const uint8_t* p = b.dense.data() + k * elemSize(b.type);
    if (b.type == 'f') {
      uint32_t v;
      std::memcpy(&v, p, 4);
      std::snprintf(tmp, sizeof tmp, "%x ", v);
    } else if (b.type == 'd') {
      uint64_t v;
      std::memcpy(&v, p, 8);
      std::snprintf(tmp, sizeof tmp, "%" PRIx64 " ", v);
    } else if (b.type == 'i') {
      int32_t v;
      std::memcpy(&v, p, 4);
      std::snprintf(tmp, sizeof tmp, "%d ", v);
    } else {
      std::snprintf(tmp, sizeof tmp, "%u ", (unsigned)*p);
    }
    line += tmp;
  }
  std::cout << line << '\n';
}

// One kernel parameter read from the request, by its C++ type.
template <class T>
T arg(std::vector<Buf>& bufs) {
  if constexpr (std::is_pointer_v<T>) {
    long long k = integer();
    if (k < 0) return nullptr;
    if ((size_t)k >= bufs.size()) throw std::runtime_error("no buffer " + std::to_string(k));
    return reinterpret_cast<T>(bufs[(size_t)k].data());
  } else if constexpr (std::is_same_v<T, float>) {
    uint32_t bits = (uint32_t)hex();
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  } else {
    static_assert(std::is_same_v<T, int>, "kernel parameter type not handled by the driver");
    return (int)integer();
  }
}

using Launcher = std::function<void(std::vector<Buf>&, dim3, dim3)>;

template <class... A>
Launcher launcher(void (*f)(A...)) {
  return [f](std::vector<Buf>& bufs, dim3 grid, dim3 block) {
    // braced initialisation evaluates left to right: parameters are read in order
    std::tuple<A...> args{arg<A>(bufs)...};
    segcam_host::launch(grid, block, [&]() { std::apply(f, args); });
  };
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::map<std::string, Launcher> table;
#define SEGCAM_REGISTER(ns, name) table[#name] = launcher(&ns::name);
  SEGCAM_KERNELS(SEGCAM_REGISTER)
  while (true) {
    std::string cmd;
    if (!(std::cin >> cmd) || cmd == "Q") return 0;
    try {
      if (cmd != "L") throw std::runtime_error("unknown request " + cmd);
      std::string name = token();
      auto it = table.find(name);
      if (it == table.end()) throw std::runtime_error("no kernel named " + name);
      dim3 grid, block;
      grid.x = (unsigned)integer();
      grid.y = (unsigned)integer();
      grid.z = (unsigned)integer();
      block.x = (unsigned)integer();
      block.y = (unsigned)integer();
      block.z = (unsigned)integer();
      std::vector<Buf> bufs((size_t)integer());
      for (Buf& b : bufs) readBuf(b);
      it->second(bufs, grid, block);
      std::cout << "OK\n";
      for (Buf& b : bufs) {
        if (!b.sparse) writeBuf(b);
      }
    } catch (const std::exception& e) {
      std::cout << "ERR " << e.what() << '\n';
      // the rest of a bad request cannot be parsed: stop
      std::cout.flush();
      return 1;
    }
    std::cout.flush();
  }
}
