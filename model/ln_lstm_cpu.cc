#include "model/ln_lstm_cpu.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/ln_lstm_rows.h"

namespace asr {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Tensors produced by the forward pass that the backward pass reads. With
// `save` false (inference) the per-step buffers hold one step and are reused.
struct ForwardState {
  Tensor xn, rstd_x;  // [T*B, G], [T*B]: normalized W_x x
  Tensor hn, rstd_h;  // [T, B, G], [T, B]: normalized W_h h
  Tensor act;         // [T, B, G]: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
  Tensor c_all;       // [T+1, B, H]: c_0 .. c_T (valid for rows active at t)
  Tensor cn, rstd_c;  // [T, B, H], [T, B]: normalized c
  Tensor tc;          // [T, B, H]: tanh(LN(c))
  Tensor m;           // [T, B, H]: pre-projection output (projection only)
  Tensor y;           // [T, B, P]: outputs = h_1 .. h_T (zero past each length)
  Tensor h0;          // [B, P]
};

// Rows of a length-sorted batch still running at step t.
int64_t ActiveRows(const std::vector<int64_t>& lengths, int64_t t) {
  int64_t n = 0;
  while (n < static_cast<int64_t>(lengths.size()) && lengths[static_cast<size_t>(n)] > t) ++n;
  return n;
}

// h_{t-1} for every row active at step t.
Tensor PreviousH(const ForwardState& s, int64_t t) { return t == 0 ? s.h0 : s.y[t - 1]; }

// Zeroes rows [n, B) of x[t] (a [T, B, ...] tensor), so that reductions over
// whole buffers never meet uninitialized memory.
void ZeroInactiveRows(const Tensor& x, int64_t slot, int64_t n) {
  if (n < x.size(1)) x[slot].narrow(0, n, x.size(1) - n).zero_();
}

template <typename T>
void ForwardKernel(const Tensor& x, const std::vector<int64_t>& lengths, const Tensor& h0, const Tensor& c0,
                   const LstmCellWeights& w, double eps, bool save, ForwardState* s) {
  const int64_t steps = x.size(0), batch = x.size(1), in = x.size(2);
  const int64_t hidden = w.g_c.size(0), gsize = 4 * hidden, psize = h0.size(1);
  const bool proj = w.w_r.defined();
  const auto opts = x.options();
  const int64_t slots = save ? steps : 1;

  s->xn = at::mm(x.reshape({steps * batch, in}), w.w_x.t());
  s->rstd_x = at::empty({steps * batch}, opts);
  const RowKernels<T>& rows = RowKernelsFor<T>();
  {
    T* ax = s->xn.data_ptr<T>();
    T* rx = s->rstd_x.data_ptr<T>();
    at::parallel_for(0, steps * batch, 16, [&](int64_t begin, int64_t end) {
      rows.normalize_rows(ax, gsize, eps, begin, end, rx);
    });
  }
  s->hn = at::empty({slots, batch, gsize}, opts);
  s->rstd_h = at::empty({slots, batch}, opts);
  s->act = at::empty({slots, batch, gsize}, opts);
  s->c_all = at::empty({save ? steps + 1 : 2, batch, hidden}, opts);
  s->cn = at::empty({slots, batch, hidden}, opts);
  s->rstd_c = at::empty({slots, batch}, opts);
  s->tc = at::empty({slots, batch, hidden}, opts);
  s->y = at::empty({steps, batch, psize}, opts);
  if (proj) s->m = at::empty({slots, batch, hidden}, opts);
  s->h0 = h0;
  s->c_all[0].copy_(c0);
  Tensor ah = at::empty({batch, gsize}, opts);
  const Tensor wh_t = w.w_h.t();
  const T* gx = w.g_x.data_ptr<T>();
  const T* gh = w.g_h.data_ptr<T>();
  const T* bias = w.bias.data_ptr<T>();
  const T* gc = w.g_c.data_ptr<T>();
  const T* bc = w.b_c.data_ptr<T>();

  for (int64_t t = 0; t < steps; ++t) {
    const int64_t n = ActiveRows(lengths, t);
    const int64_t slot = save ? t : 0;
    const int64_t c_in = save ? t : t % 2, c_out = save ? t + 1 : (t + 1) % 2;
    ZeroInactiveRows(s->y, t, n);
    if (save) {
      for (const Tensor* b : {&s->hn, &s->act, &s->cn, &s->tc, &s->rstd_h, &s->rstd_c})
        ZeroInactiveRows(*b, t, n);
      if (proj) ZeroInactiveRows(s->m, t, n);
    }
    if (n == 0) continue;
    Tensor ah_n = ah.narrow(0, 0, n);
    at::mm_out(ah_n, PreviousH(*s, t).narrow(0, 0, n), wh_t);
    const ForwardRowsArgs<T> args{CellParams<T>{gx, gh, bias, gc, bc, hidden, eps},
                                  s->xn.data_ptr<T>() + t * batch * gsize,
                                  ah.data_ptr<T>(),
                                  s->hn[slot].data_ptr<T>(),
                                  s->rstd_h[slot].data_ptr<T>(),
                                  s->c_all[c_in].data_ptr<T>(),
                                  s->act[slot].data_ptr<T>(),
                                  s->c_all[c_out].data_ptr<T>(),
                                  s->cn[slot].data_ptr<T>(),
                                  s->rstd_c[slot].data_ptr<T>(),
                                  s->tc[slot].data_ptr<T>(),
                                  proj ? s->m[slot].data_ptr<T>() : s->y[t].data_ptr<T>(),
                                  proj ? hidden : psize};
    at::parallel_for(0, n, 4, [&](int64_t begin, int64_t end) { rows.forward_rows(args, begin, end); });
    if (proj) {
      Tensor y_n = s->y[t].narrow(0, 0, n);
      at::mm_out(y_n, s->m[slot].narrow(0, 0, n), w.w_r.t());
    }
  }
}

// Final states at each row's own length: h from y (or h0), c from c_all.
// In inference mode c_all alternates between two slots; a finished row is
// never written again, so its last c stays in slot length % 2.
Tensor FinalH(const ForwardState& s, const std::vector<int64_t>& lengths) {
  Tensor out = at::empty({s.h0.size(0), s.h0.size(1)}, s.h0.options());
  for (size_t b = 0; b < lengths.size(); ++b) {
    const int64_t i = static_cast<int64_t>(b);
    out[i].copy_(lengths[b] == 0 ? s.h0[i] : s.y[lengths[b] - 1][i]);
  }
  return out;
}

Tensor FinalC(const ForwardState& s, const std::vector<int64_t>& lengths, bool save) {
  Tensor out = at::empty({s.c_all.size(1), s.c_all.size(2)}, s.c_all.options());
  for (size_t b = 0; b < lengths.size(); ++b) {
    const int64_t slot = save ? lengths[b] : lengths[b] % 2;
    out[static_cast<int64_t>(b)].copy_(s.c_all[slot][static_cast<int64_t>(b)]);
  }
  return out;
}

struct Grads {
  Tensor dx, dh0, dc0, dwx, dwh, dgx, dgh, dbias, dgc, dbc, dwr;
};

template <typename T>
Grads BackwardKernel(const Tensor& x, const std::vector<int64_t>& lengths, const LstmCellWeights& w,
                     const ForwardState& s, const Tensor& dy_in, const Tensor& dh_t, const Tensor& dc_t) {
  const int64_t steps = x.size(0), batch = x.size(1), in = x.size(2);
  const int64_t hidden = w.g_c.size(0), gsize = 4 * hidden, psize = s.y.size(2);
  const bool proj = w.w_r.defined();
  const auto opts = x.options();
  const Tensor dy = dy_in.defined() ? dy_in.contiguous() : at::zeros({steps, batch, psize}, opts);
  Tensor dh = dh_t.defined() ? dh_t.clone().contiguous() : at::zeros({batch, psize}, opts);
  Tensor dc = dc_t.defined() ? dc_t.clone().contiguous() : at::zeros({batch, hidden}, opts);
  Tensor dah_all = at::empty({steps, batch, gsize}, opts);  // d(W_h h), for dW_h
  Tensor dax = at::empty({steps, batch, gsize}, opts);      // d(W_x x), for dW_x and dx
  Tensor dm = proj ? at::empty({batch, hidden}, opts) : dh;
  Tensor dr_all = proj ? at::empty({steps, batch, psize}, opts) : Tensor();
  // Per-row accumulators of the vector-parameter gradients: each row is
  // owned by one thread per step, so no locking; summed over rows at the end.
  Tensor acc_g = at::zeros({batch, 3 * gsize}, opts);   // d g_x | d g_h | d bias
  Tensor acc_c = at::zeros({batch, 2 * hidden}, opts);  // d g_c | d b_c
  const T* gx = w.g_x.data_ptr<T>();
  const T* gh = w.g_h.data_ptr<T>();
  const T* gc = w.g_c.data_ptr<T>();
  const RowKernels<T>& rows = RowKernelsFor<T>();

  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t n = ActiveRows(lengths, t);
    ZeroInactiveRows(dah_all, t, n);
    ZeroInactiveRows(dax, t, n);
    if (proj) ZeroInactiveRows(dr_all, t, n);
    if (n == 0) continue;
    dh.narrow(0, 0, n).add_(dy[t].narrow(0, 0, n));
    if (proj) {
      dr_all[t].narrow(0, 0, n).copy_(dh.narrow(0, 0, n));
      Tensor dm_n = dm.narrow(0, 0, n);
      at::mm_out(dm_n, dh.narrow(0, 0, n), w.w_r);
    }
    const BackwardRowsArgs<T> args{hidden,
                                   gx,
                                   gh,
                                   gc,
                                   s.act[t].data_ptr<T>(),
                                   s.tc[t].data_ptr<T>(),
                                   s.cn[t].data_ptr<T>(),
                                   s.rstd_c[t].data_ptr<T>(),
                                   s.hn[t].data_ptr<T>(),
                                   s.rstd_h[t].data_ptr<T>(),
                                   s.xn.data_ptr<T>() + t * batch * gsize,
                                   s.rstd_x.data_ptr<T>() + t * batch,
                                   s.c_all[t].data_ptr<T>(),
                                   dm.data_ptr<T>(),
                                   dc.data_ptr<T>(),
                                   dah_all[t].data_ptr<T>(),
                                   dax[t].data_ptr<T>(),
                                   acc_g.data_ptr<T>(),
                                   acc_c.data_ptr<T>()};
    at::parallel_for(0, n, 4, [&](int64_t begin, int64_t end) {
      std::vector<T> scratch(static_cast<size_t>(gsize + 2 * hidden));
      rows.backward_rows(args, begin, end, scratch.data());
    });
    Tensor dh_n = dh.narrow(0, 0, n);
    at::mm_out(dh_n, dah_all[t].narrow(0, 0, n), w.w_h);
  }

  Grads g;
  g.dh0 = dh;
  g.dc0 = dc;
  const Tensor sums_g = acc_g.sum(0), sums_c = acc_c.sum(0);
  g.dgx = sums_g.narrow(0, 0, gsize);
  g.dgh = sums_g.narrow(0, gsize, gsize);
  g.dbias = sums_g.narrow(0, 2 * gsize, gsize);
  g.dgc = sums_c.narrow(0, 0, hidden);
  g.dbc = sums_c.narrow(0, hidden, hidden);
  const Tensor dax_flat = dax.view({steps * batch, gsize});
  g.dwx = dax_flat.t().mm(x.reshape({steps * batch, in}));
  g.dx = dax_flat.mm(w.w_x).view({steps, batch, in});
  // h_{t-1} for t = 0..T-1 is [h0, y_0 .. y_{T-2}]; rows with zero dah
  // contribute nothing.
  const Tensor dah_flat = dah_all.view({steps * batch, gsize});
  g.dwh = dah_flat.narrow(0, 0, batch).t().mm(s.h0);
  if (steps > 1) {
    g.dwh.add_(dah_flat.narrow(0, batch, (steps - 1) * batch)
                   .t()
                   .mm(s.y.narrow(0, 0, steps - 1).reshape({(steps - 1) * batch, psize})));
  }
  if (proj) g.dwr = dr_all.view({steps * batch, psize}).t().mm(s.m.view({steps * batch, hidden}));
  return g;
}

class LnLstmCpuFunction : public torch::autograd::Function<LnLstmCpuFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& lengths_t,
                               const Tensor& h0, const Tensor& c0, const Tensor& w_x, const Tensor& w_h,
                               const Tensor& g_x, const Tensor& g_h, const Tensor& bias, const Tensor& g_c,
                               const Tensor& b_c, const Tensor& w_r, double eps) {
    const std::vector<int64_t> lengths(lengths_t.data_ptr<int64_t>(),
                                       lengths_t.data_ptr<int64_t>() + lengths_t.numel());
    // LibTorch 1.13 custom functions cannot take undefined tensors: an
    // empty w_r stands for "no projection".
    const LstmCellWeights w{w_x, w_h, g_x, g_h, bias, g_c, b_c, w_r.numel() ? w_r : Tensor()};
    auto s = std::make_shared<ForwardState>();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ln_lstm_cpu_forward",
                               [&] { ForwardKernel<scalar_t>(x, lengths, h0, c0, w, eps, true, s.get()); });
    const Tensor h_t = FinalH(*s, lengths), c_t = FinalC(*s, lengths, true);
    // y is an output: it must go through save_for_backward (a SavedVariable
    // without a strong reference back to this node); keeping it in
    // saved_data would form a cycle and leak every step's buffers.
    ctx->save_for_backward({x, lengths_t, w_x, w_h, g_x, g_h, bias, g_c, b_c, w_r, h0, s->y});
    ctx->saved_data["xn"] = s->xn;
    ctx->saved_data["rstd_x"] = s->rstd_x;
    ctx->saved_data["hn"] = s->hn;
    ctx->saved_data["rstd_h"] = s->rstd_h;
    ctx->saved_data["act"] = s->act;
    ctx->saved_data["c_all"] = s->c_all;
    ctx->saved_data["cn"] = s->cn;
    ctx->saved_data["rstd_c"] = s->rstd_c;
    ctx->saved_data["tc"] = s->tc;
    if (w.w_r.defined()) ctx->saved_data["m"] = s->m;
    return {s->y, h_t, c_t};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const Tensor& x = saved[0];
    const Tensor& lengths_t = saved[1];
    const std::vector<int64_t> lengths(lengths_t.data_ptr<int64_t>(),
                                       lengths_t.data_ptr<int64_t>() + lengths_t.numel());
    const LstmCellWeights w{saved[2], saved[3], saved[4], saved[5],
                            saved[6], saved[7], saved[8], saved[9].numel() ? saved[9] : Tensor()};
    ForwardState s;
    s.xn = ctx->saved_data["xn"].toTensor();
    s.rstd_x = ctx->saved_data["rstd_x"].toTensor();
    s.hn = ctx->saved_data["hn"].toTensor();
    s.rstd_h = ctx->saved_data["rstd_h"].toTensor();
    s.act = ctx->saved_data["act"].toTensor();
    s.c_all = ctx->saved_data["c_all"].toTensor();
    s.cn = ctx->saved_data["cn"].toTensor();
    s.rstd_c = ctx->saved_data["rstd_c"].toTensor();
    s.tc = ctx->saved_data["tc"].toTensor();
    s.h0 = saved[10];
    s.y = saved[11];
    if (w.w_r.defined()) s.m = ctx->saved_data["m"].toTensor();
    Grads g;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ln_lstm_cpu_backward", [&] {
      g = BackwardKernel<scalar_t>(x, lengths, w, s, grads[0], grads[1], grads[2]);
    });
    return {g.dx, Tensor(), g.dh0, g.dc0, g.dwx, g.dwh, g.dgx, g.dgh, g.dbias, g.dgc, g.dbc, g.dwr, Tensor()};
  }
};

template <typename T>
void StepKernel(const Tensor& x, const Tensor& h, const Tensor& c, const LstmCellWeights& w, double eps,
                Tensor* h_out, Tensor* c_out) {
  const int64_t batch = x.size(0), hidden = w.g_c.size(0), gsize = 4 * hidden;
  const bool proj = w.w_r.defined();
  Tensor ax = at::mm(x, w.w_x.t());
  Tensor ah = at::mm(h, w.w_h.t());
  Tensor act = at::empty({batch, gsize}, x.options());
  Tensor scratch = at::empty({2, batch, hidden}, x.options());  // cn | tc
  Tensor rstd = at::empty({3, batch}, x.options());             // 1/std of W_h h | c | W_x x (discarded)
  *c_out = at::empty({batch, hidden}, x.options());
  Tensor m = at::empty({batch, hidden}, x.options());
  T* ax_p = ax.data_ptr<T>();
  T* ah_p = ah.data_ptr<T>();
  T* sc = scratch.data_ptr<T>();
  const RowKernels<T>& rows = RowKernelsFor<T>();
  const ForwardRowsArgs<T> args{CellParams<T>{w.g_x.data_ptr<T>(), w.g_h.data_ptr<T>(), w.bias.data_ptr<T>(),
                                              w.g_c.data_ptr<T>(), w.b_c.data_ptr<T>(), hidden, eps},
                                ax_p,
                                ah_p,
                                ah_p,
                                rstd.data_ptr<T>(),
                                c.data_ptr<T>(),
                                act.data_ptr<T>(),
                                c_out->data_ptr<T>(),
                                sc,
                                rstd.data_ptr<T>() + batch,
                                sc + batch * hidden,
                                m.data_ptr<T>(),
                                hidden};
  at::parallel_for(0, batch, 4, [&](int64_t begin, int64_t end) {
    rows.normalize_rows(ax_p, gsize, eps, begin, end, rstd.data_ptr<T>() + 2 * batch);
    rows.forward_rows(args, begin, end);
  });
  *h_out = proj ? at::mm(m, w.w_r.t()) : m;
}

}  // namespace

void LnLstmStepCpu(const torch::Tensor& x, const torch::Tensor& h, const torch::Tensor& c,
                   const LstmCellWeights& w, double eps, torch::Tensor* h_out, torch::Tensor* c_out) {
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ln_lstm_cpu_step", [&] {
    StepKernel<scalar_t>(x.contiguous(), h.contiguous(), c.contiguous(), w, eps, h_out, c_out);
  });
}

std::vector<torch::Tensor> LnLstmDirectionCpu(const torch::Tensor& x, const std::vector<int64_t>& lengths,
                                              const torch::Tensor& h0, const torch::Tensor& c0,
                                              const LstmCellWeights& w, double eps) {
  const Tensor lengths_t = torch::tensor(lengths, torch::kInt64);
  const Tensor xc = x.contiguous();
  if (!torch::GradMode::is_enabled()) {
    ForwardState s;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ln_lstm_cpu_inference", [&] {
      ForwardKernel<scalar_t>(xc, lengths, h0.contiguous(), c0.contiguous(), w, eps, false, &s);
    });
    return {s.y, FinalH(s, lengths), FinalC(s, lengths, false)};
  }
  const Tensor w_r = w.w_r.defined() ? w.w_r : torch::empty({0}, x.options());
  return LnLstmCpuFunction::apply(xc, lengths_t, h0.contiguous(), c0.contiguous(), w.w_x, w.w_h, w.g_x, w.g_h,
                                  w.bias, w.g_c, w.b_c, w_r, eps);
}

}  // namespace asr
