"""PyTorch equivalents of the minivae models, used only by the benchmarks.

Each class computes the same objective as its minivae counterpart, with the same layer shapes,
so a training step does the same matrix products (PyTorch skips the input gradient of the first
layer, which minivae computes; see ``bench_training.py`` for the FLOP counts):

* :class:`TorchMLPVAE` <-> ``minivae.models.VAE(784, [400], 20)`` (ReLU, Bernoulli likelihood):
  encoder Linear(D, H) -> ReLU -> Linear(H, 2L) = [mu, logvar]; decoder Linear(L, H) -> ReLU ->
  Linear(H, D) = logits; loss = mean over the batch of [sum_d BCE-with-logits + KL].
* :class:`TorchLSTMVAE` <-> ``minivae.models.LSTMVAE(D, H, L, likelihood="gaussian")``:
  encoder ``nn.LSTM(D, H)``, h_T -> Linear(H, 2L) = [mu, logvar]; z = mu + sigma * eps; then

  - ``decoder="repeat"``: z repeated at every step -> ``nn.LSTM(L, H)`` (zero start state);
  - ``decoder="autoregressive"``: h_0 = tanh(Linear(L, H)(z)), c_0 = Linear(L, H)(z), an
    ``nn.LSTMCell(D, H)`` loop reading a zero start token at t = 0 and then x_{t-1} (teacher
    forcing with probability ``teacher_forcing``, per sequence and step, else the previous
    predicted mean, with the gradient flowing through it, as in minivae);
  - ``decoder="autoregressive_fused"``: the same model for ``teacher_forcing=1.0`` only, written
    the fast way: every input is known in advance, so one ``nn.LSTM`` call runs over the shifted
    sequence [0, x_0, ..., x_{T-2}] from the state (h_0, c_0).  It is what a PyTorch user would
    write for pure teacher forcing; minivae has no such shortcut.

  A Linear(H, 2D) at every step gives the per-step Gaussian [mean, logvar]; loss = mean over the
  batch of [sum over steps and features of the Gaussian NLL + KL].

Log-variances are clamped to [-30, 20] like minivae's ``clamp_logvar``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2.0 * math.pi)
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def _kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(N(mu, exp(logvar)) || N(0, I)), summed over latent dims."""
    return (0.5 * (mu * mu + logvar.exp() - 1.0 - logvar)).sum(dim=1).mean()


class TorchMLPVAE(nn.Module):
    """MLP VAE with a Bernoulli likelihood.  x: (N, D) in [0, 1]."""

    def __init__(self, input_dim: int = 784, hidden: int = 400, latent: int = 20) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(),
                                     nn.Linear(hidden, input_dim))

    def loss(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, D); eps: (N, L) latent noise (default: drawn)."""
        code = self.encoder(x)
        L = self.latent
        mu, logvar = code[:, :L], code[:, L:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        eps = torch.randn_like(mu) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        return rec + _kl_standard_normal(mu, logvar)


class TorchLSTMVAE(nn.Module):
    """LSTM-VAE with a per-step Gaussian likelihood.  x: (N, T, D)."""

    DECODERS = ("repeat", "autoregressive", "autoregressive_fused")

    def __init__(self, input_dim: int, hidden: int, latent: int, decoder: str = "repeat",
                 teacher_forcing: float = 1.0) -> None:
        super().__init__()
        if decoder not in self.DECODERS:
            raise ValueError(f"decoder must be one of {self.DECODERS}, got {decoder!r}")
        if decoder == "autoregressive_fused" and teacher_forcing != 1.0:
            raise ValueError("autoregressive_fused needs teacher_forcing=1.0")
        self.D, self.H, self.L = input_dim, hidden, latent
        self.decoder_kind = decoder
        self.teacher_forcing = float(teacher_forcing)
        self.encoder = nn.LSTM(input_dim, hidden, batch_first=True)
        self.to_latent = nn.Linear(hidden, 2 * latent)
        if decoder == "repeat":
            self.decoder = nn.LSTM(latent, hidden, batch_first=True)
        else:
            self.init_h = nn.Linear(latent, hidden)
            self.init_c = nn.Linear(latent, hidden)
            if decoder == "autoregressive":
                self.cell = nn.LSTMCell(input_dim, hidden)
            else:
                self.decoder = nn.LSTM(input_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2 * input_dim)

    def _decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """z: (N, L), x: (N, T, D) (read by the autoregressive decoders) -> (N, T, 2D)."""
        N, T, D = x.shape
        if self.decoder_kind == "repeat":
            hs, _ = self.decoder(z.unsqueeze(1).expand(N, T, self.L))
            return self.out(hs)
        h = torch.tanh(self.init_h(z))
        c = self.init_c(z)
        if self.decoder_kind == "autoregressive_fused":
            inp = torch.cat([x.new_zeros(N, 1, D), x[:, :-1]], dim=1)
            hs, _ = self.decoder(inp, (h.unsqueeze(0), c.unsqueeze(0)))
            return self.out(hs)
        tf = self.teacher_forcing
        feed = None
        if 0.0 < tf < 1.0:  # per sequence and step, like minivae's draw
            feed = torch.rand(N, T) < tf
        prev = x.new_zeros(N, D)  # the start token
        outs = []
        for t in range(T):
            h, c = self.cell(prev, (h, c))
            y = self.out(h)
            outs.append(y)
            if t + 1 < T:
                pred = y[:, :D]  # the predicted mean is fed back (gradient flows through it)
                if tf == 1.0:
                    prev = x[:, t]
                elif tf == 0.0:
                    prev = pred
                else:
                    prev = torch.where(feed[:, t + 1, None], x[:, t], pred)
        return torch.stack(outs, dim=1)

    def loss(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        """x: (N, T, D); eps: (N, L) latent noise (default: drawn)."""
        _, (hT, _) = self.encoder(x)
        code = self.to_latent(hT[-1])
        L, D = self.L, self.D
        mu, logvar = code[:, :L], code[:, L:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        eps = torch.randn_like(mu) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        out = self._decode(z, x)
        mean, out_logvar = out[..., :D], out[..., D:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        nll = 0.5 * (LOG_2PI + out_logvar + (x - mean) ** 2 * torch.exp(-out_logvar))
        rec = nll.sum(dim=(1, 2)).mean()
        return rec + _kl_standard_normal(mu, logvar)

    @torch.inference_mode()
    def reconstruction_log_prob(self, x: torch.Tensor, eps: torch.Tensor | None = None
                                ) -> torch.Tensor:
        """Per-sequence log p(x | z), z ~ q(z | x) (one sample, noise ``eps`` or drawn), the
        decoder free of gradients: minivae's ``reconstruction_log_prob(X, n_samples=1,
        per_step=False)`` for the repeat decoder.  x: (N, T, D) -> (N,)."""
        _, (hT, _) = self.encoder(x)
        code = self.to_latent(hT[-1])
        L, D = self.L, self.D
        mu, logvar = code[:, :L], code[:, L:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        eps = torch.randn_like(mu) if eps is None else eps
        out = self._decode(mu + torch.exp(0.5 * logvar) * eps, x)
        mean, out_logvar = out[..., :D], out[..., D:].clamp(LOGVAR_MIN, LOGVAR_MAX)
        nll = 0.5 * (LOG_2PI + out_logvar + (x - mean) ** 2 * torch.exp(-out_logvar))
        return -nll.sum(dim=(1, 2))
