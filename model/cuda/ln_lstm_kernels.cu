// Fused LN-LSTM kernels; see ln_lstm_kernels.h for the contracts.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "model/cuda/ln_lstm_kernels.h"

namespace asr::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ __forceinline__ float Load(const T* p, int64_t i);
template <>
__device__ __forceinline__ float Load<float>(const float* p, int64_t i) {
  return p[i];
}
template <>
__device__ __forceinline__ float Load<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
template <>
__device__ __forceinline__ float Load<__half>(const __half* p, int64_t i) {
  return __half2float(p[i]);
}

template <typename T>
__device__ __forceinline__ void Store(T* p, int64_t i, float v);
template <>
__device__ __forceinline__ void Store<float>(float* p, int64_t i, float v) {
  p[i] = v;
}
template <>
__device__ __forceinline__ void Store<__nv_bfloat16>(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16(v);
}
template <>
__device__ __forceinline__ void Store<__half>(__half* p, int64_t i, float v) {
  p[i] = __float2half(v);
}

__device__ __forceinline__ float Sigmoid(float x) { return 1.f / (1.f + __expf(-x)); }

// Sum over the block; every thread gets the result. `scratch` holds one
// float per warp.
__device__ float BlockSum(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // scratch may still be read from a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < kThreads / 32; ++w) total += scratch[w];
  return total;
}

template <typename T>
__global__ void LayerNormRowsKernel(const T* x, T* y, float* rstd, int64_t n, float eps) {
  __shared__ float scratch[kThreads / 32];
  const T* row = x + blockIdx.x * n;
  T* out = y + blockIdx.x * n;
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) s += Load(row, j);
  const float mean = BlockSum(s, scratch) / static_cast<float>(n);
  float q = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const float d = Load(row, j) - mean;
    q += d * d;
  }
  const float r = rsqrtf(BlockSum(q, scratch) / static_cast<float>(n) + eps);
  for (int64_t j = threadIdx.x; j < n; j += kThreads) Store(out, j, (Load(row, j) - mean) * r);
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

template <typename T>
__global__ void CellForwardKernel(CellForwardParams p) {
  extern __shared__ float gates[];  // [G]
  __shared__ float scratch[kThreads / 32];
  const int64_t b = blockIdx.x, H = p.hidden, G = 4 * H;
  const bool active = p.t < p.lengths[b];
  const T* h_prev = static_cast<const T*>(p.h_prev) + b * H;
  T* h_next = static_cast<T*>(p.h_next) + b * H;
  T* y = static_cast<T*>(p.y) + b * H;
  if (!active) {
    for (int64_t k = threadIdx.x; k < H; k += kThreads) {
      p.c_next[b * H + k] = p.c_prev[b * H + k];
      Store(h_next, k, Load(h_prev, k));
      Store(y, k, 0.f);
      if (p.cn) {
        Store(static_cast<T*>(p.cn) + b * H, k, 0.f);
        Store(static_cast<T*>(p.tc) + b * H, k, 0.f);
      }
    }
    if (p.hn) {
      for (int64_t j = threadIdx.x; j < G; j += kThreads) {
        Store(static_cast<T*>(p.hn) + b * G, j, 0.f);
        Store(static_cast<T*>(p.act) + b * G, j, 0.f);
      }
      if (threadIdx.x == 0) p.rstd_h[b] = p.rstd_c[b] = 0.f;
    }
    return;
  }
  const T* ah = static_cast<const T*>(p.ah) + b * G;
  const T* xn = static_cast<const T*>(p.xn) + b * G;
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < G; j += kThreads) s += Load(ah, j);
  const float mean = BlockSum(s, scratch) / static_cast<float>(G);
  float q = 0.f;
  for (int64_t j = threadIdx.x; j < G; j += kThreads) {
    const float d = Load(ah, j) - mean;
    q += d * d;
  }
  const float rh = rsqrtf(BlockSum(q, scratch) / static_cast<float>(G) + p.eps);
  for (int64_t j = threadIdx.x; j < G; j += kThreads) {
    const float hn = (Load(ah, j) - mean) * rh;
    if (p.hn) Store(static_cast<T*>(p.hn) + b * G, j, hn);
    const float a = Load(xn, j) * p.g_x[j] + hn * p.g_h[j] + p.bias[j];
    const float v = (j >= 2 * H && j < 3 * H) ? tanhf(a) : Sigmoid(a);
    gates[j] = v;
    if (p.act) Store(static_cast<T*>(p.act) + b * G, j, v);
  }
  __syncthreads();
  float cs = 0.f;
  for (int64_t k = threadIdx.x; k < H; k += kThreads) {
    const float c = gates[H + k] * p.c_prev[b * H + k] + gates[k] * gates[2 * H + k];
    p.c_next[b * H + k] = c;
    cs += c;
  }
  __syncthreads();  // c_next written before it is read back below
  const float cmean = BlockSum(cs, scratch) / static_cast<float>(H);
  float cq = 0.f;
  for (int64_t k = threadIdx.x; k < H; k += kThreads) {
    const float d = p.c_next[b * H + k] - cmean;
    cq += d * d;
  }
  const float rc = rsqrtf(BlockSum(cq, scratch) / static_cast<float>(H) + p.eps);
  for (int64_t k = threadIdx.x; k < H; k += kThreads) {
    const float cn = (p.c_next[b * H + k] - cmean) * rc;
    const float tc = tanhf(cn * p.g_c[k] + p.b_c[k]);
    const float m = gates[3 * H + k] * tc;
    if (p.cn) {
      Store(static_cast<T*>(p.cn) + b * H, k, cn);
      Store(static_cast<T*>(p.tc) + b * H, k, tc);
    }
    Store(h_next, k, m);
    Store(y, k, m);
  }
  if (threadIdx.x == 0 && p.rstd_h) {
    p.rstd_h[b] = rh;
    p.rstd_c[b] = rc;
  }
}

template <typename T>
__global__ void CellBackwardKernel(CellBackwardParams p) {
  extern __shared__ float shared[];  // dg [G] | dcn [H]
  __shared__ float scratch[kThreads / 32];
  const int64_t b = blockIdx.x, H = p.hidden, G = 4 * H;
  float* dg = shared;
  float* dcn = shared + G;
  T* dah = static_cast<T*>(p.dah) + b * G;
  T* dax = static_cast<T*>(p.dax) + b * G;
  if (p.t >= p.lengths[b]) {  // padded step: state gradients pass through
    for (int64_t j = threadIdx.x; j < G; j += kThreads) {
      Store(dah, j, 0.f);
      Store(dax, j, 0.f);
    }
    return;
  }
  const T* act = static_cast<const T*>(p.act) + b * G;
  const T* tc = static_cast<const T*>(p.tc) + b * H;
  const T* cn = static_cast<const T*>(p.cn) + b * H;
  const T* dh = static_cast<const T*>(p.dh) + b * H;
  float* acc_c = p.acc_c + b * 2 * H;
  float s1 = 0.f, s2 = 0.f;
  for (int64_t k = threadIdx.x; k < H; k += kThreads) {
    const float o = Load(act, 3 * H + k), t = Load(tc, k), d = Load(dh, k), c = Load(cn, k);
    dg[3 * H + k] = d * t * o * (1.f - o);
    const float dnc = d * o * (1.f - t * t);
    acc_c[k] += dnc * c;
    acc_c[H + k] += dnc;
    const float v = dnc * p.g_c[k];
    dcn[k] = v;
    s1 += v;
    s2 += v * c;
  }
  const float m1 = BlockSum(s1, scratch) / static_cast<float>(H);
  const float m2 = BlockSum(s2, scratch) / static_cast<float>(H);
  const float rc = p.rstd_c[b];
  for (int64_t k = threadIdx.x; k < H; k += kThreads) {
    const float i = Load(act, k), f = Load(act, H + k), g = Load(act, 2 * H + k);
    const float dct = p.dc[b * H + k] + rc * (dcn[k] - m1 - Load(cn, k) * m2);
    dg[k] = dct * g * i * (1.f - i);
    dg[H + k] = dct * p.c_prev[b * H + k] * f * (1.f - f);
    dg[2 * H + k] = dct * i * (1.f - g * g);
    p.dc[b * H + k] = dct * f;
  }
  __syncthreads();
  const T* hn = static_cast<const T*>(p.hn) + b * G;
  const T* xn = static_cast<const T*>(p.xn) + b * G;
  float* acc_g = p.acc_g + b * 3 * G;
  float h1 = 0.f, h2 = 0.f, x1 = 0.f, x2 = 0.f;
  for (int64_t j = threadIdx.x; j < G; j += kThreads) {
    const float d = dg[j], hv = Load(hn, j), xv = Load(xn, j);
    acc_g[j] += d * xv;
    acc_g[G + j] += d * hv;
    acc_g[2 * G + j] += d;
    const float dh_n = d * p.g_h[j], dx_n = d * p.g_x[j];
    h1 += dh_n;
    h2 += dh_n * hv;
    x1 += dx_n;
    x2 += dx_n * xv;
  }
  const float mh1 = BlockSum(h1, scratch) / static_cast<float>(G);
  const float mh2 = BlockSum(h2, scratch) / static_cast<float>(G);
  const float mx1 = BlockSum(x1, scratch) / static_cast<float>(G);
  const float mx2 = BlockSum(x2, scratch) / static_cast<float>(G);
  const float rh = p.rstd_h[b], rx = p.rstd_x[b];
  for (int64_t j = threadIdx.x; j < G; j += kThreads) {
    const float d = dg[j];
    Store(dah, j, rh * (d * p.g_h[j] - mh1 - Load(hn, j) * mh2));
    Store(dax, j, rx * (d * p.g_x[j] - mx1 - Load(xn, j) * mx2));
  }
}

template <typename T>
__global__ void SelectActiveRowsKernel(const T* src, const T* keep, T* dst, int64_t n, int64_t t,
                                       const int64_t* lengths) {
  const int64_t b = blockIdx.x;
  const T* from = (t < lengths[b] ? src : keep) + b * n;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) dst[b * n + j] = from[j];
}

template <template <typename> class Launch, typename... Args>
cudaError_t Dispatch(DType dtype, Args&&... args) {
  switch (dtype) {
    case DType::kFloat32:
      return Launch<float>::Run(args...);
    case DType::kBFloat16:
      return Launch<__nv_bfloat16>::Run(args...);
    case DType::kFloat16:
      return Launch<__half>::Run(args...);
  }
  return cudaErrorInvalidValue;
}

template <typename T>
struct LaunchLayerNorm {
  static cudaError_t Run(const void* x, void* y, float* rstd, int64_t rows, int64_t n, float eps,
                         cudaStream_t s) {
    if (rows == 0) return cudaSuccess;
    LayerNormRowsKernel<T><<<static_cast<unsigned>(rows), kThreads, 0, s>>>(static_cast<const T*>(x),
                                                                            static_cast<T*>(y), rstd, n, eps);
    return cudaGetLastError();
  }
};

template <typename T>
struct LaunchForward {
  static cudaError_t Run(const CellForwardParams& p, cudaStream_t s) {
    if (p.batch == 0) return cudaSuccess;
    const size_t shared = static_cast<size_t>(4 * p.hidden) * sizeof(float);
    CellForwardKernel<T><<<static_cast<unsigned>(p.batch), kThreads, shared, s>>>(p);
    return cudaGetLastError();
  }
};

template <typename T>
struct LaunchBackward {
  static cudaError_t Run(const CellBackwardParams& p, cudaStream_t s) {
    if (p.batch == 0) return cudaSuccess;
    const size_t shared = static_cast<size_t>(5 * p.hidden) * sizeof(float);
    CellBackwardKernel<T><<<static_cast<unsigned>(p.batch), kThreads, shared, s>>>(p);
    return cudaGetLastError();
  }
};

template <typename T>
struct LaunchSelect {
  static cudaError_t Run(const void* src, const void* keep, void* dst, int64_t batch, int64_t n, int64_t t,
                         const int64_t* lengths, cudaStream_t s) {
    if (batch == 0) return cudaSuccess;
    SelectActiveRowsKernel<T><<<static_cast<unsigned>(batch), kThreads, 0, s>>>(
        static_cast<const T*>(src), static_cast<const T*>(keep), static_cast<T*>(dst), n, t, lengths);
    return cudaGetLastError();
  }
};

}  // namespace

cudaError_t LayerNormRows(DType dtype, const void* x, void* y, float* rstd, int64_t rows, int64_t n,
                          float eps, cudaStream_t stream) {
  return Dispatch<LaunchLayerNorm>(dtype, x, y, rstd, rows, n, eps, stream);
}

cudaError_t CellForward(const CellForwardParams& p, cudaStream_t stream) {
  return Dispatch<LaunchForward>(p.dtype, p, stream);
}

cudaError_t CellBackward(const CellBackwardParams& p, cudaStream_t stream) {
  return Dispatch<LaunchBackward>(p.dtype, p, stream);
}

cudaError_t SelectActiveRows(DType dtype, const void* src_active, const void* keep, void* dst, int64_t batch,
                             int64_t n, int64_t t, const int64_t* lengths, cudaStream_t stream) {
  return Dispatch<LaunchSelect>(dtype, src_active, keep, dst, batch, n, t, lengths, stream);
}

}  // namespace asr::cuda
