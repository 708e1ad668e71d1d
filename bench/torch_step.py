#!/usr/bin/env python3
"""A plain eager PyTorch implementation of RMAAT's training step, timed beside rmaat's own.

The model and step of docs/design.md sections 5 and 6 written the way a researcher would write them in
PyTorch (nn.Linear, nn.Dropout, R = P_rel W_R as a matrix product, BPTT through the segment loop), with
the same sizes, dropout sites and loss as `rmaat bench train --variant rmaat:bptt:L`. Both are timed on
the same machine in the same run (best of --steps after one warm-up, loss + gradients, no optimiser),
each in a process of its own, and printed as one Markdown table with the ratio (SPEC 8's CPU target:
rmaat >= 1.5x faster).

Usage: bench/torch_step.py [--rmaat build/rmaat] [--threads 1 2] [--batch 4] [--d-model 64]
                           [--segment-length 256] [--segments 8] [--steps 5] [--rounds 3]
Needs python3-torch (Debian) for the PyTorch side.
"""
import argparse
import math
import re
import subprocess
import sys
import time


def torch_step_seconds(a):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, H, M, S, T, B, p = a.d_model, 4, 16, a.segment_length, a.segments, a.batch, a.dropout
    dh = m = d // H
    span, vocab, classes = M + S, 256, 10

    def phi(z):
        return F.elu(z) + 1

    class Astro(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
            self.W_R = nn.Parameter(torch.randn(H, span, m) * 0.02)
            i = torch.arange(span, dtype=torch.float32)
            self.register_buffer("P_rel", torch.exp(-(i[:, None] - i[None, :]).abs() * 0.1))
            self.drop = nn.Dropout(p)

        def forward(self, x, mask):
            Bn, N, _ = x.shape
            q = self.q(x).view(Bn, N, H, m).transpose(1, 2)
            k = self.k(x).view(Bn, N, H, m).transpose(1, 2)
            v = self.v(x).view(Bn, N, H, dh).transpose(1, 2)
            mk = mask[:, None, :, None].to(x.dtype)
            pk, v = phi(k) * mk, v * mk
            R = phi(torch.matmul(self.P_rel, self.W_R))[:, :N]  # [H, N, m]
            Hm = (pk.transpose(-1, -2) @ v + R.transpose(-1, -2) @ v) / m  # [B, H, m, dh]
            g = pk.sum(2).clamp_min(1.1754944e-38) ** 0.25  # [B, H, m]
            pq = phi(q)
            out = (pq @ Hm) / ((pq * g[:, :, None, :]).sum(-1, keepdim=True) + 1e-6)
            out = out.transpose(1, 2).reshape(Bn, N, d)
            return self.o(self.drop(out))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn, self.n1, self.n2 = Astro(), nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff1, self.ff2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.d1, self.d2, self.d3 = nn.Dropout(p), nn.Dropout(p), nn.Dropout(p)

        def forward(self, x, mask):
            h = self.n1(x + self.d1(self.attn(x, mask)))
            return self.n2(h + self.d3(self.ff2(self.d2(F.gelu(self.ff1(h))))))

    class RMAAT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(S, d)
            self.memory = nn.Parameter(torch.randn(M, d) * 0.02)
            self.layers = nn.ModuleList(Layer() for _ in range(2))
            self.cls, self.de, self.dc = nn.Linear(d, classes), nn.Dropout(p), nn.Dropout(p)
            self.rf = [math.exp(-(t + 1) / 19.5) for t in range(T)]  # a retention table

        def forward(self, tokens, mask):
            mem = self.memory.expand(tokens.shape[0], M, d)
            ones = torch.ones(tokens.shape[0], M, dtype=torch.bool)
            for t in range(T):
                x_t, m_t = tokens[:, t * S:(t + 1) * S], mask[:, t * S:(t + 1) * S]
                h = self.de(self.tok(x_t) + self.pos(torch.arange(S))[None])
                h, mm = torch.cat([mem, h], 1), torch.cat([ones, m_t], 1)
                for layer in self.layers:
                    h = layer(h, mm)
                mem = self.rf[t] * h[:, :M]
            w = m_t[:, :, None].to(h.dtype)  # mean over the last segment's real tokens
            u = (h[:, M:] * w).sum(1) / w.sum(1).clamp_min(1)
            return self.cls(self.dc(u))

    model = RMAAT().train()
    tokens = torch.randint(vocab, (B, T * S))
    mask = torch.ones(B, T * S, dtype=torch.bool)
    labels = torch.randint(classes, (B,))

    def step():
        model.zero_grad()
        F.cross_entropy(model(tokens, mask), labels).backward()

    step()
    best = math.inf
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best


def rmaat_step_seconds(a, method):
    cmd = [a.rmaat, "bench", "train", "--variant", f"rmaat:{method}:{a.segments * a.segment_length}",
           "--batch", str(a.batch), "--d-model", str(a.d_model), "--segment-length", str(a.segment_length),
           "--dropout", str(a.dropout), "--steps", str(a.steps), "--threads", str(a.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"variant (\S+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rmaat", default="build/rmaat")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--segment-length", type=int, default=256)
    ap.add_argument("--segments", type=int, default=8)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3,
                    help="each side runs this many times, interleaved (PyTorch, BPTT, AMRB, PyTorch, ...); "
                         "best of all rounds, so a burst of load on a shared machine hits both sides alike")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: the PyTorch side only
    a = ap.parse_args()
    if a.one:
        a.threads = a.threads[0]
        print(f"torch {torch_step_seconds(a)}")
        return
    print(f"RMAAT training step (loss + gradients): B = {a.batch}, d_model = {a.d_model}, 4 heads, 2 layers, "
          f"d_ff = {4 * a.d_model}, {a.segments} segments of {a.segment_length}, M = 16, dropout {a.dropout}, "
          f"float32, CPU; best of {a.steps} steps after 1 warm-up, each side in its own process, "
          f"{a.rounds} interleaved rounds (best of all)\n")
    print("| threads | PyTorch eager, BPTT ms | rmaat BPTT ms | rmaat AMRB ms | PyTorch / rmaat BPTT | "
          "PyTorch / rmaat AMRB |\n|---|---|---|---|---|---|")
    for th in a.threads:
        a.threads = th
        args = [sys.executable, __file__, "--one", "--threads", str(th), "--batch", str(a.batch), "--d-model",
                str(a.d_model), "--segment-length", str(a.segment_length), "--segments", str(a.segments),
                "--dropout", str(a.dropout), "--steps", str(a.steps)]
        pt = rb = ra = math.inf
        for _ in range(a.rounds):
            out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
            pt = min(pt, float(re.search(r"torch (\S+)", out).group(1)))
            rb = min(rb, rmaat_step_seconds(a, "bptt"))
            ra = min(ra, rmaat_step_seconds(a, "amrb"))
        print(f"| {th} | {1e3 * pt:.0f} | {1e3 * rb:.0f} | {1e3 * ra:.0f} | **{pt / rb:.2f}x** | {pt / ra:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
