#!/usr/bin/python3
"""Golden data for tests/model/ln_lstm_golden_test.cc.

An independent float64 PyTorch implementation of the layer-normalized LSTM
cell (Ba, Kiros & Hinton 2016, supp. eqs. 20-22; haste's LayerNormLSTM),
written per sequence with Python loops: each sequence runs alone over its
own length, and the reverse direction simply walks the sequence backwards,
so no padding or masking logic is shared with the C++ code. Writes, per
case, random weights (C++ parameter names), a ragged batch, outputs, final
states and the gradients of

    loss = sum(y * r_y) + sum(h_T * r_h) + sum(c_T * r_c)

with respect to every parameter, the input and the initial states.

    /usr/bin/python3 tests/golden/make_lnlstm_golden.py
"""
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lnlstm")
CASES = {
    "uni2": dict(input_size=5, hidden_size=7, num_layers=2, bidirectional=False, proj_size=0),
    "bi2": dict(input_size=5, hidden_size=6, num_layers=2, bidirectional=True, proj_size=0),
    "bi2_proj": dict(input_size=4, hidden_size=8, num_layers=2, bidirectional=True, proj_size=3),
}
STEPS, LENGTHS, EPS = 7, [5, 7, 2, 6], 1e-5  # unsorted on purpose


def layer_norm(a, eps):
    mean = a.mean()
    var = ((a - mean) ** 2).mean()  # biased
    return (a - mean) / torch.sqrt(var + eps)


def run_direction(xs, h, c, w, hidden):
    """xs: list of input vectors in processing order. Returns outputs, h, c."""
    outs = []
    for x in xs:
        gates = (layer_norm(w["w_x"] @ x, EPS) * w["g_x"] + layer_norm(w["w_h"] @ h, EPS) * w["g_h"]
                 + w["bias"])
        i, f, g, o = gates.split(hidden)  # gate order i, f, g, o
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        m = torch.sigmoid(o) * torch.tanh(layer_norm(c, EPS) * w["g_c"] + w["b_c"])
        h = w["w_r"] @ m if "w_r" in w else m
        outs.append(h)
    return outs, h, c


def make_params(cfg, gen):
    hid, proj = cfg["hidden_size"], cfg["proj_size"]
    state = proj or hid
    dirs = 2 if cfg["bidirectional"] else 1
    params = {}
    for layer in range(cfg["num_layers"]):
        in_size = cfg["input_size"] if layer == 0 else dirs * state
        for d in range(dirs):
            s = f"_l{layer}" + ("_reverse" if d else "")
            rnd = lambda *shape, scale=1.0: torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
            params["w_x" + s] = rnd(4 * hid, in_size, scale=0.5)
            params["w_h" + s] = rnd(4 * hid, state, scale=0.5)
            params["g_x" + s] = 1 + rnd(4 * hid, scale=0.2)
            params["g_h" + s] = 1 + rnd(4 * hid, scale=0.2)
            params["bias" + s] = rnd(4 * hid, scale=0.3)
            params["g_c" + s] = 1 + rnd(hid, scale=0.2)
            params["b_c" + s] = rnd(hid, scale=0.2)
            if proj:
                params["w_r" + s] = rnd(proj, hid, scale=0.5)
    for p in params.values():
        p.requires_grad_(True)
    return params


def forward(cfg, params, x, h0, c0):
    hid, dirs = cfg["hidden_size"], 2 if cfg["bidirectional"] else 1
    batch = x.shape[1]
    state = cfg["proj_size"] or hid
    y = torch.zeros(STEPS, batch, dirs * state, dtype=torch.float64)
    hs = [[None] * batch for _ in range(cfg["num_layers"] * dirs)]
    cs = [[None] * batch for _ in range(cfg["num_layers"] * dirs)]
    rows = []
    for b, length in enumerate(LENGTHS):
        seq = [x[t, b] for t in range(length)]
        for layer in range(cfg["num_layers"]):
            outs_per_dir = []
            for d in range(dirs):
                s = f"_l{layer}" + ("_reverse" if d else "")
                w = {k[: -len(s)]: v for k, v in params.items() if k.endswith(s)}
                k = layer * dirs + d
                inputs = seq if d == 0 else seq[::-1]
                outs, h, c = run_direction(inputs, h0[k, b], c0[k, b], w, hid)
                outs_per_dir.append(outs if d == 0 else outs[::-1])
                hs[k][b], cs[k][b] = h, c
            seq = [torch.cat([o[t] for o in outs_per_dir]) for t in range(length)]
        rows.append(torch.stack(seq + [torch.zeros(dirs * state, dtype=torch.float64)] * (STEPS - length)))
    y = torch.stack(rows, dim=1)
    h_t = torch.stack([torch.stack(v) for v in hs])
    c_t = torch.stack([torch.stack(v) for v in cs])
    return y, h_t, c_t


def save(dir_, name, t):
    np.save(os.path.join(dir_, name + ".npy"), t.detach().numpy())


def main():
    manifest = {}
    for i, (name, cfg) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(1000 + i)
        dirs = 2 if cfg["bidirectional"] else 1
        state = cfg["proj_size"] or cfg["hidden_size"]
        batch = len(LENGTHS)
        params = make_params(cfg, gen)
        x = torch.randn(STEPS, batch, cfg["input_size"], generator=gen, dtype=torch.float64, requires_grad=True)
        n = cfg["num_layers"] * dirs
        h0 = (0.5 * torch.randn(n, batch, state, generator=gen, dtype=torch.float64)).requires_grad_(True)
        c0 = (0.5 * torch.randn(n, batch, cfg["hidden_size"], generator=gen, dtype=torch.float64)).requires_grad_(True)
        y, h_t, c_t = forward(cfg, params, x, h0, c0)
        r_y = torch.randn(y.shape, generator=gen, dtype=torch.float64)
        r_h = torch.randn(h_t.shape, generator=gen, dtype=torch.float64)
        r_c = torch.randn(c_t.shape, generator=gen, dtype=torch.float64)
        loss = (y * r_y).sum() + (h_t * r_h).sum() + (c_t * r_c).sum()
        loss.backward()
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        for k, v in params.items():
            save(d, "param_" + k, v)
            save(d, "grad_" + k, v.grad)
        for k, v in dict(x=x, h0=h0, c0=c0, y=y, h_t=h_t, c_t=c_t, r_y=r_y, r_h=r_h, r_c=r_c).items():
            save(d, k, v)
        save(d, "grad_x", x.grad)
        save(d, "grad_h0", h0.grad)
        save(d, "grad_c0", c0.grad)
        np.save(os.path.join(d, "lengths.npy"), np.array(LENGTHS, dtype=np.int64))
        manifest[name] = dict(cfg, eps=EPS, steps=STEPS, params=sorted(params))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest)} cases to {OUT}")


if __name__ == "__main__":
    main()
