"""A model exported by asr-export, as a plain PyTorch module.

    from asr_client.torch_model import ExportedModel
    model = ExportedModel.load("digits-export")          # asr-export --out digits-export
    feats = model.features(waveform, sample_rate)        # [T, F], Kaldi fbank via torchaudio
    log_probs, lengths = model(feats[None], torch.tensor([len(feats)]))  # [B, T', V]
    text = model.greedy_text(log_probs[0, :lengths[0]])

Written from the papers, not from the service's C++: the layer-normalized
LSTM of Ba, Kiros & Hinton (2016), "Layer Normalization", section 3.1,

    [i; f; g; o] = LN(W_x x_t; g_x) + LN(W_h h_{t-1}; g_h) + b
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(LN(c_t; g_c, b_c))         (then h_t = W_r h_t with a projection)

with LN(z; gain, bias) = gain * (z - mean(z)) / sqrt(var(z) + eps) + bias over
the units of one time step (biased variance); trained with CTC (Graves et
al. 2006, blank = unit 0). Around it, as config.json describes: feature
normalization (global CMVN, or Kaldi-style online mean normalization),
k consecutive frames stacked into one input (output every k-th frame), a
few burn-in copies of the first input whose outputs are dropped, and a
linear layer + log-softmax over the units of vocab.json.

Plain Python loops over time: eager, CPU or CUDA, and traceable for
torch.onnx.export (docs/api.md).
"""
import json
import os
import struct
from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

PathLike = Union[str, os.PathLike]


def load_safetensors(path: PathLike) -> Dict[str, Tensor]:
    """The tensors of a .safetensors file (8-byte little-endian header size,
    JSON header, raw C-order data). Only F32 is written by asr-export."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {meta['dtype']}, expected F32")
        begin, end = meta["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(meta["shape"])
    return tensors


def layer_norm(z: Tensor, eps: float, gain: Optional[Tensor] = None, bias: Optional[Tensor] = None) -> Tensor:
    """LN over the last dimension (Ba et al. eq. 4)."""
    mean = z.mean(-1, keepdim=True)
    var = ((z - mean) ** 2).mean(-1, keepdim=True)
    y = (z - mean) / torch.sqrt(var + eps)
    if gain is not None:
        y = y * gain
    if bias is not None:
        y = y + bias
    return y


class LnLstmDirection(nn.Module):
    """One direction of one layer: the cell above, run over [T, B, I]."""

    def __init__(self, w: Dict[str, Tensor], eps: float):
        super().__init__()
        self.w_x = nn.Parameter(w["w_x"])    # [4H, I]
        self.w_h = nn.Parameter(w["w_h"])    # [4H, P]
        self.g_x = nn.Parameter(w["g_x"])    # [4H]
        self.g_h = nn.Parameter(w["g_h"])    # [4H]
        self.bias = nn.Parameter(w["bias"])  # [4H]
        self.g_c = nn.Parameter(w["g_c"])    # [H]
        self.b_c = nn.Parameter(w["b_c"])    # [H]
        self.w_r = nn.Parameter(w["w_r"]) if "w_r" in w else None  # [P, H]
        self.eps = eps

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x [T, B, I]; mask [T, B] (True inside each sequence). Returns the
        outputs [T, B, P], zero past each sequence's end; the state stops
        changing there."""
        steps, batch = x.shape[0], x.shape[1]
        hidden = self.g_c.shape[0]
        h = x.new_zeros(batch, self.w_h.shape[1])
        c = x.new_zeros(batch, hidden)
        xg = layer_norm(x @ self.w_x.t(), self.eps, self.g_x)  # input part of every step at once
        outputs = []
        for t in range(steps):
            gates = xg[t] + layer_norm(h @ self.w_h.t(), self.eps, self.g_h) + self.bias
            i, f, g, o = gates.chunk(4, dim=1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(layer_norm(c_new, self.eps, self.g_c, self.b_c))
            if self.w_r is not None:
                h_new = h_new @ self.w_r.t()
            m = mask[t].unsqueeze(1)
            h = torch.where(m, h_new, h)
            c = torch.where(m, c_new, c)
            outputs.append(torch.where(m, h_new, torch.zeros_like(h_new)))
        return torch.stack(outputs)


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """x [T, B, ...] with each sequence b reversed over its first lengths[b]
    steps; steps past the end stay where they are."""
    steps = x.shape[0]
    t = torch.arange(steps, device=x.device).unsqueeze(1)  # [T, 1]
    n = lengths.to(x.device).unsqueeze(0)                   # [1, B]
    index = torch.where(t < n, n - 1 - t, t)                 # [T, B]
    index = index.view(steps, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)


class ExportedModel(nn.Module):
    """The acoustic model of an asr-export directory. forward() takes raw
    (unnormalized) features [B, T, F] and lengths [B] and returns
    log-probabilities [B, T', V] and output lengths T' = ceil(T / k)."""

    def __init__(self, config: dict, units: List[str], tensors: Dict[str, Tensor]):
        super().__init__()
        self.config = config
        self.units = units
        self.k = int(config["frame_stacking"])
        self.eps = float(config["ln_eps"])
        self.burn_in = int(config["burn_in_frames"])
        cmn = config.get("online_cmn") or {}
        self.cmn_window = int(cmn.get("window", 0))
        self.cmn_prior = int(cmn.get("prior_frames", 0))
        self.register_buffer("cmvn_mean", tensors["cmvn_mean"])
        self.register_buffer("cmvn_inv_std", tensors["cmvn_inv_std"])
        directions = ["", "_reverse"] if config["bidirectional"] else [""]
        self.layers = nn.ModuleList()
        for layer in range(int(config["num_layers"])):
            cells = nn.ModuleList()
            for d in directions:
                suffix = f"_l{layer}{d}"
                w = {n: tensors[f"lstm.{n}{suffix}"] for n in ("w_x", "w_h", "g_x", "g_h", "bias", "g_c", "b_c")}
                if f"lstm.w_r{suffix}" in tensors:
                    w["w_r"] = tensors[f"lstm.w_r{suffix}"]
                cells.append(LnLstmDirection(w, self.eps))
            self.layers.append(cells)
        self.output = nn.Linear(tensors["output.weight"].shape[1], tensors["output.weight"].shape[0])
        with torch.no_grad():
            self.output.weight.copy_(tensors["output.weight"])
            self.output.bias.copy_(tensors["output.bias"])

    @classmethod
    def load(cls, directory: PathLike) -> "ExportedModel":
        with open(os.path.join(directory, "config.json")) as f:
            config = json.load(f)
        with open(os.path.join(directory, "vocab.json")) as f:
            units = json.load(f)["units"]
        model = cls(config, units, load_safetensors(os.path.join(directory, "model.safetensors")))
        return model.eval()

    def normalize(self, feats: Tensor) -> Tensor:
        """[B, T, F] -> global CMVN, or online mean normalization: the mean of
        frame t is (sum of the last `window` frames + max(0, prior - n) *
        global mean) / max(n, prior), n = frames in that window so far."""
        if self.cmn_window <= 0:
            return (feats - self.cmvn_mean) * self.cmvn_inv_std
        steps, window, prior = feats.shape[1], self.cmn_window, float(self.cmn_prior)
        prefix = feats.double().cumsum(1)
        sums = prefix.clone()
        if steps > window:
            sums[:, window:] -= prefix[:, :-window]
        n = torch.arange(1, steps + 1, dtype=torch.double, device=feats.device).clamp(max=window).view(1, -1, 1)
        mean = (sums + (prior - n).clamp(min=0) * self.cmvn_mean.double()) / n.clamp(min=prior)
        return (feats - mean.to(feats.dtype)) * self.cmvn_inv_std

    def forward(self, feats: Tensor, lengths: Tensor) -> Tuple[Tensor, Tensor]:
        batch, steps, dim = feats.shape
        lengths = lengths.to(torch.long)
        x = self.normalize(feats)
        valid = torch.arange(steps, device=feats.device).unsqueeze(0) < lengths.to(feats.device).unsqueeze(1)
        x = x * valid.unsqueeze(2).to(x.dtype)
        out_steps = (steps + self.k - 1) // self.k
        x = nn.functional.pad(x, (0, 0, 0, out_steps * self.k - steps))
        x = x.reshape(batch, out_steps, self.k * dim).transpose(0, 1)  # [T', B, k F]
        out_lengths = (lengths + self.k - 1) // self.k
        burn = self.burn_in if out_steps > 0 else 0
        if burn:
            x = torch.cat([x[:1].expand(burn, -1, -1), x])
        run_lengths = out_lengths + burn
        mask = torch.arange(x.shape[0]).unsqueeze(1) < run_lengths.unsqueeze(0)  # [T, B]
        mask = mask.to(x.device)
        for cells in self.layers:
            outs = [cells[0](x, mask)]
            if len(cells) == 2:
                backward = cells[1](reverse_within_lengths(x, run_lengths), mask)
                outs.append(reverse_within_lengths(backward, run_lengths))
            x = torch.cat(outs, dim=2)
        log_probs = torch.log_softmax(self.output(x[burn:]), dim=-1)
        return log_probs.transpose(0, 1), out_lengths

    def greedy_text(self, log_probs: Tensor) -> str:
        """Best-path CTC decoding of one utterance's [T', V]: repeats merged,
        blanks dropped; characters joined, or words joined by spaces."""
        ids = log_probs.argmax(-1).tolist()
        kept = [u for i, u in enumerate(ids) if u != 0 and (i == 0 or u != ids[i - 1])]
        if self.config.get("word_units"):
            return " ".join(self.units[u] for u in kept)
        return "".join(self.units[u] for u in kept).strip()

    def features(self, waveform: Tensor, sample_rate: int) -> Tensor:
        """Kaldi filterbank features [T, F] of a mono waveform in [-1, 1]
        (torchaudio.compliance.kaldi, resampled to the model's rate first)
        as config.json's "features" asks; fbank only."""
        import torchaudio

        f = self.config["features"]
        if f.get("type", "fbank") != "fbank":
            raise ValueError(f"features.type {f.get('type')}: only fbank is supported here")
        rate = int(f.get("sample_rate", 16000))
        if sample_rate != rate:
            waveform = torchaudio.functional.resample(waveform, sample_rate, rate)
        return torchaudio.compliance.kaldi.fbank(
            waveform.reshape(1, -1) * 32768.0, sample_frequency=rate,
            frame_shift=f.get("frame_shift_ms", 10.0), frame_length=f.get("frame_length_ms", 25.0),
            dither=0.0, preemphasis_coefficient=f.get("preemph_coeff", 0.97),
            remove_dc_offset=f.get("remove_dc_offset", True), window_type=f.get("window_type", "povey"),
            round_to_power_of_two=f.get("round_to_power_of_two", True),
            blackman_coeff=f.get("blackman_coeff", 0.42), snip_edges=f.get("snip_edges", True),
            num_mel_bins=f.get("num_mel_bins", 23), low_freq=f.get("low_freq", 20.0),
            high_freq=f.get("high_freq", 0.0), use_energy=f.get("use_energy", False),
            energy_floor=f.get("energy_floor", 0.0), raw_energy=f.get("raw_energy", True),
            htk_compat=f.get("htk_compat", False), use_log_fbank=f.get("use_log_fbank", True),
            use_power=f.get("use_power", True))
