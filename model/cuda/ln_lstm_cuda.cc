#include "model/cuda/ln_lstm_cuda.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "model/cuda/ln_lstm_kernels.h"

namespace asr {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// On unless the environment sets ASR_CUDA_GRAPHS=0 (direct launches, for
// debugging and profiling).
std::atomic<bool> g_graphs{[] {
  const char* v = std::getenv("ASR_CUDA_GRAPHS");
  return v == nullptr || std::string(v) != "0";
}()};

cuda::DType KernelType(torch::ScalarType t) {
  switch (t) {
    case torch::kBFloat16:
      return cuda::DType::kBFloat16;
    case torch::kHalf:
      return cuda::DType::kFloat16;
    default:
      return cuda::DType::kFloat32;
  }
}

void Check(cudaError_t e, const char* what) {
  TORCH_CHECK(e == cudaSuccess, what, ": ", cudaGetErrorString(e));
}

const float* F(const Tensor& t) { return t.data_ptr<float>(); }

// Buffers of one direction's forward pass; index t = step.
struct Activations {
  Tensor xn, rstd_x;      // [T*B, G], [T*B]
  Tensor h_all, c_all;    // [T+1, B, H] (h: dtype, c: fp32)
  Tensor hn, act;         // [T, B, G]
  Tensor cn, tc;          // [T, B, H]
  Tensor rstd_h, rstd_c;  // [T, B]
  Tensor y;               // [T, B, H]
  Tensor ah;              // [B, G] scratch
};

// Step loops captured as CUDA graphs, keyed by (steps, batch, hidden,
// dtype, forward?) and bound to the buffers they were captured with. A
// graph replays the device addresses it was captured with, so everything
// the body reads (inputs, lengths, weights) lives in those buffers and is
// copied in by `bind` before each replay: layers and directions of the
// same shape share one graph.
struct CapturedLoop {
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  std::map<std::string, Tensor> buffers;
};
std::mutex g_cache_mu;
std::map<std::tuple<int64_t, int64_t, int64_t, int, bool, int>, std::shared_ptr<CapturedLoop>> g_cache;

// Runs `body` directly, or captured once into a graph for this key and
// replayed; `bind` copies inputs into the captured buffers. *out receives
// the buffers named in `outputs` (copies of a graph's).
void RunLoop(const std::tuple<int64_t, int64_t, int64_t, int, bool, int>& key,
             const std::function<void(std::map<std::string, Tensor>&)>& make_buffers,
             const std::function<void(std::map<std::string, Tensor>&)>& bind,
             const std::function<void(std::map<std::string, Tensor>&)>& body,
             const std::vector<std::string>& outputs, std::map<std::string, Tensor>* out) {
  if (!g_graphs.load()) {
    make_buffers(*out);
    bind(*out);
    body(*out);
    return;
  }
  std::shared_ptr<CapturedLoop> loop;
  {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    auto& slot = g_cache[key];
    if (!slot) {
      slot = std::make_shared<CapturedLoop>();
      make_buffers(slot->buffers);
      bind(slot->buffers);
      // Warm-up on a side stream (cuBLAS handles, workspaces), then capture.
      auto stream = at::cuda::getStreamFromPool();
      at::cuda::getCurrentCUDAStream().synchronize();  // bind's copies
      {
        c10::cuda::CUDAStreamGuard guard(stream);
        body(slot->buffers);
        stream.synchronize();
        slot->graph = std::make_unique<at::cuda::CUDAGraph>();
        slot->graph->capture_begin();
        body(slot->buffers);
        slot->graph->capture_end();
      }
    }
    loop = slot;
  }
  std::lock_guard<std::mutex> lock(g_cache_mu);  // one replay of a graph at a time
  bind(loop->buffers);
  loop->graph->replay();
  for (const std::string& name : outputs)
    (*out)[name] = loop->buffers.at(name).clone();  // outlive later replays
}

int DeviceIndex(const Tensor& t) { return t.device().index(); }

// The forward recurrence; returns the activations (y and final states included).
Activations Forward(const Tensor& x, const Tensor& lengths_dev, const Tensor& h0, const Tensor& c0,
                    const LstmCellWeights& w, double eps, bool save) {
  const int64_t steps = x.size(0), batch = x.size(1), in = x.size(2), hidden = w.g_c.size(0), g = 4 * hidden;
  const auto dtype = x.scalar_type();
  const auto opts = x.options();
  const auto fopts = opts.dtype(torch::kFloat32);
  const Tensor wx = w.w_x.to(dtype);
  Activations a;
  a.xn = at::mm(x.reshape({steps * batch, in}), wx.t());
  a.rstd_x = at::empty({steps * batch}, fopts);
  auto stream = at::cuda::getCurrentCUDAStream();
  Check(cuda::LayerNormRows(KernelType(dtype), a.xn.data_ptr(), a.xn.data_ptr(), a.rstd_x.data_ptr<float>(),
                            steps * batch, g, static_cast<float>(eps), stream),
        "LayerNormRows");
  const int64_t slots = save ? steps : 1;
  std::map<std::string, Tensor> buf;
  auto make = [&](std::map<std::string, Tensor>& m) {
    m["xn"] = at::empty({steps * batch, g}, opts);
    m["h_all"] = at::empty({steps + 1, batch, hidden}, opts);
    m["c_all"] = at::empty({steps + 1, batch, hidden}, fopts);
    m["hn"] = at::empty({slots, batch, g}, opts);
    m["act"] = at::empty({slots, batch, g}, opts);
    m["cn"] = at::empty({slots, batch, hidden}, opts);
    m["tc"] = at::empty({slots, batch, hidden}, opts);
    m["rstd_h"] = at::empty({slots, batch}, fopts);
    m["rstd_c"] = at::empty({slots, batch}, fopts);
    m["y"] = at::empty({steps, batch, hidden}, opts);
    m["ah"] = at::empty({batch, g}, opts);
    m["lengths"] = at::empty({batch}, lengths_dev.options());
    m["wh_t"] = at::empty({hidden, g}, opts);
    for (const char* k : {"gx", "gh", "bias"}) m[k] = at::empty({g}, fopts);
    for (const char* k : {"gc", "bc"}) m[k] = at::empty({hidden}, fopts);
  };
  auto bind = [&](std::map<std::string, Tensor>& m) {
    m["xn"].copy_(a.xn);
    m["h_all"][0].copy_(h0);
    m["c_all"][0].copy_(c0);
    m["lengths"].copy_(lengths_dev);
    m["wh_t"].copy_(w.w_h.t());
    m["gx"].copy_(w.g_x);
    m["gh"].copy_(w.g_h);
    m["bias"].copy_(w.bias);
    m["gc"].copy_(w.g_c);
    m["bc"].copy_(w.b_c);
  };
  auto body = [&](std::map<std::string, Tensor>& m) {
    auto s = at::cuda::getCurrentCUDAStream();
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t slot = save ? t : 0;
      Tensor ah = m["ah"];
      at::mm_out(ah, m["h_all"][t], m["wh_t"]);
      cuda::CellForwardParams p;
      p.dtype = KernelType(dtype);
      p.batch = batch;
      p.hidden = hidden;
      p.t = t;
      p.lengths = m["lengths"].data_ptr<int64_t>();
      p.eps = static_cast<float>(eps);
      p.ah = ah.data_ptr();
      p.xn = static_cast<char*>(m["xn"].data_ptr()) + t * batch * g * m["xn"].element_size();
      p.g_x = F(m["gx"]);
      p.g_h = F(m["gh"]);
      p.bias = F(m["bias"]);
      p.g_c = F(m["gc"]);
      p.b_c = F(m["bc"]);
      p.c_prev = F(m["c_all"][t]);
      p.h_prev = m["h_all"][t].data_ptr();
      p.c_next = m["c_all"][t + 1].data_ptr<float>();
      p.h_next = m["h_all"][t + 1].data_ptr();
      p.y = m["y"][t].data_ptr();
      if (save) {
        p.hn = m["hn"][slot].data_ptr();
        p.rstd_h = m["rstd_h"][slot].data_ptr<float>();
        p.act = m["act"][slot].data_ptr();
        p.cn = m["cn"][slot].data_ptr();
        p.rstd_c = m["rstd_c"][slot].data_ptr<float>();
        p.tc = m["tc"][slot].data_ptr();
      }
      Check(cuda::CellForward(p, s.stream()), "CellForward");
    }
  };
  RunLoop({steps, batch, hidden, static_cast<int>(dtype), true, DeviceIndex(x) * 2 + (save ? 1 : 0)}, make,
          bind, body, {"h_all", "c_all", "hn", "act", "cn", "tc", "rstd_h", "rstd_c", "y"}, &buf);
  a.h_all = buf["h_all"];
  a.c_all = buf["c_all"];
  a.hn = buf["hn"];
  a.act = buf["act"];
  a.cn = buf["cn"];
  a.tc = buf["tc"];
  a.rstd_h = buf["rstd_h"];
  a.rstd_c = buf["rstd_c"];
  a.y = buf["y"];
  return a;
}

class LnLstmCudaFunction : public torch::autograd::Function<LnLstmCudaFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& lengths_dev,
                               const Tensor& h0, const Tensor& c0, const Tensor& w_x, const Tensor& w_h,
                               const Tensor& g_x, const Tensor& g_h, const Tensor& bias, const Tensor& g_c,
                               const Tensor& b_c, double eps) {
    const LstmCellWeights w{w_x, w_h, g_x, g_h, bias, g_c, b_c, Tensor()};
    Activations a = Forward(x, lengths_dev, h0.to(x.scalar_type()), c0.to(torch::kFloat32), w, eps, true);
    const int64_t steps = x.size(0);
    Tensor h_t = a.h_all[steps].to(h0.scalar_type()), c_t = a.c_all[steps].to(c0.scalar_type());
    ctx->save_for_backward({x, lengths_dev, w_x, w_h, g_x, g_h, bias, g_c, b_c});
    ctx->saved_data["eps"] = eps;
    for (auto& [k, v] : std::map<std::string, Tensor>{{"xn", a.xn},
                                                      {"rstd_x", a.rstd_x},
                                                      {"h_all", a.h_all},
                                                      {"c_all", a.c_all},
                                                      {"hn", a.hn},
                                                      {"act", a.act},
                                                      {"cn", a.cn},
                                                      {"tc", a.tc},
                                                      {"rstd_h", a.rstd_h},
                                                      {"rstd_c", a.rstd_c}}) {
      ctx->saved_data[k] = v;
    }
    return {a.y.clone(), h_t, c_t};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list s = ctx->get_saved_variables();
    const Tensor &x = s[0], &lengths_dev = s[1], &w_x = s[2], &w_h = s[3], &g_x = s[4], &g_h = s[5],
                 &g_c = s[7];
    auto sd = [&](const char* k) { return ctx->saved_data[k].toTensor(); };
    const Tensor xn = sd("xn"), rstd_x = sd("rstd_x"), h_all = sd("h_all"), c_all = sd("c_all"),
                 hn = sd("hn"), act = sd("act"), cn = sd("cn"), tc = sd("tc"), rstd_h = sd("rstd_h"),
                 rstd_c = sd("rstd_c");
    const int64_t steps = x.size(0), batch = x.size(1), in = x.size(2), hidden = g_c.size(0), g = 4 * hidden;
    const auto dtype = x.scalar_type();
    const auto opts = x.options();
    const auto fopts = opts.dtype(torch::kFloat32);
    const Tensor wh = w_h.to(dtype);
    const Tensor gx = g_x.to(torch::kFloat32).contiguous(), gh = g_h.to(torch::kFloat32).contiguous(),
                 gc = g_c.to(torch::kFloat32).contiguous();
    Tensor dy =
        grads[0].defined() ? grads[0].to(dtype).contiguous() : at::zeros({steps, batch, hidden}, opts);
    Tensor dh = grads[1].defined() ? grads[1].to(dtype).clone() : at::zeros({batch, hidden}, opts);
    Tensor dc = grads[2].defined() ? grads[2].to(torch::kFloat32).clone() : at::zeros({batch, hidden}, fopts);
    Tensor dah = at::empty({steps, batch, g}, opts), dax = at::empty({steps, batch, g}, opts);
    Tensor acc_g = at::zeros({batch, 3 * g}, fopts), acc_c = at::zeros({batch, 2 * hidden}, fopts);
    Tensor dh_plus = at::empty({batch, hidden}, opts), dh_new = at::empty({batch, hidden}, opts);
    auto stream = at::cuda::getCurrentCUDAStream();
    for (int64_t t = steps - 1; t >= 0; --t) {
      at::add_out(dh_plus, dh, dy[t]);
      cuda::CellBackwardParams p;
      p.dtype = KernelType(dtype);
      p.batch = batch;
      p.hidden = hidden;
      p.t = t;
      p.lengths = lengths_dev.data_ptr<int64_t>();
      p.dh = dh_plus.data_ptr();
      p.dc = dc.data_ptr<float>();
      p.act = act[t].data_ptr();
      p.tc = tc[t].data_ptr();
      p.cn = cn[t].data_ptr();
      p.rstd_c = rstd_c[t].data_ptr<float>();
      p.c_prev = c_all[t].data_ptr<float>();
      p.hn = hn[t].data_ptr();
      p.rstd_h = rstd_h[t].data_ptr<float>();
      p.xn = static_cast<char*>(xn.data_ptr()) + t * batch * g * xn.element_size();
      p.rstd_x = rstd_x.data_ptr<float>() + t * batch;
      p.g_x = F(gx);
      p.g_h = F(gh);
      p.g_c = F(gc);
      p.dah = dah[t].data_ptr();
      p.dax = dax[t].data_ptr();
      p.acc_g = acc_g.data_ptr<float>();
      p.acc_c = acc_c.data_ptr<float>();
      Check(cuda::CellBackward(p, stream.stream()), "CellBackward");
      at::mm_out(dh_new, dah[t], wh);
      Check(cuda::SelectActiveRows(KernelType(dtype), dh_new.data_ptr(), dh.data_ptr(), dh.data_ptr(), batch,
                                   hidden, t, lengths_dev.data_ptr<int64_t>(), stream.stream()),
            "SelectActiveRows");
    }
    const Tensor dax_flat = dax.view({steps * batch, g});
    const Tensor dwx = dax_flat.t().mm(x.reshape({steps * batch, in})).to(w_x.scalar_type());
    const Tensor dx = dax_flat.mm(w_x.to(dtype)).view({steps, batch, in});
    const Tensor dwh = dah.view({steps * batch, g})
                           .t()
                           .mm(h_all.narrow(0, 0, steps).reshape({steps * batch, hidden}))
                           .to(w_h.scalar_type());
    const Tensor sg = acc_g.sum(0), sc = acc_c.sum(0);
    return {dx,
            Tensor(),
            dh.to(s[0].scalar_type()),
            dc,
            dwx,
            dwh,
            sg.narrow(0, 0, g).to(g_x.scalar_type()),
            sg.narrow(0, g, g).to(g_h.scalar_type()),
            sg.narrow(0, 2 * g, g).to(s[6].scalar_type()),
            sc.narrow(0, 0, hidden).to(g_c.scalar_type()),
            sc.narrow(0, hidden, hidden).to(s[8].scalar_type()),
            Tensor()};
  }
};

}  // namespace

bool LnLstmCudaSupports(const torch::Tensor& x, const LstmCellWeights& w) {
  return x.is_cuda() && !w.w_r.defined() &&
         (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16 ||
          x.scalar_type() == torch::kHalf);
}

void SetLnLstmCudaGraphs(bool enabled) { g_graphs.store(enabled); }

std::vector<torch::Tensor> LnLstmDirectionCuda(const torch::Tensor& x, const std::vector<int64_t>& lengths,
                                               const torch::Tensor& h0, const torch::Tensor& c0,
                                               const LstmCellWeights& w, double eps) {
  c10::cuda::CUDAGuard guard(x.device());
  const Tensor lengths_dev = torch::tensor(lengths, torch::kInt64).to(x.device());
  const Tensor xc = x.contiguous();
  if (!torch::GradMode::is_enabled()) {
    Activations a = Forward(xc, lengths_dev, h0.to(x.scalar_type()), c0.to(torch::kFloat32), w, eps, false);
    return {a.y, a.h_all[x.size(0)].to(h0.scalar_type()), a.c_all[x.size(0)].to(c0.scalar_type())};
  }
  return LnLstmCudaFunction::apply(xc, lengths_dev, h0, c0, w.w_x, w.w_h, w.g_x, w.g_h, w.bias, w.g_c, w.b_c,
                                   eps);
}

void LnLstmStepCuda(const torch::Tensor& x, const torch::Tensor& h, const torch::Tensor& c,
                    const LstmCellWeights& w, double eps, torch::Tensor* h_out, torch::Tensor* c_out) {
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> ones(static_cast<size_t>(x.size(0)), 1);
  std::vector<Tensor> r = LnLstmDirectionCuda(x.unsqueeze(0), ones, h, c, w, eps);
  *h_out = r[1];
  *c_out = r[2];
}

}  // namespace asr
