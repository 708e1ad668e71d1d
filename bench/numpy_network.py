#!/usr/bin/env python3
"""Independent NumPy implementation of the network model (docs/design.md section 3.1), for speed and value comparison.

Plain vectorised NumPy, dense coupling matrix, classic RK4 at a fixed step: what a researcher would
otherwise write. Fixed protocol (all presynaptic neurons on for t_on, off for t_off), defaults of docs/design.md section 3.1.

  bench/numpy_network.py --side 64 --seconds 1        # wall seconds per simulated second
  bench/numpy_network.py --side 3 --cycles 64         # p(t) at cycle ends, to compare values

Prints one line per figure.
"""
import argparse
import time

import numpy as np


def build_T(side, lam=2.0, w_T=0.75):
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    pos = np.stack([ii.ravel(), jj.ravel()], axis=1).astype(float)
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    K = np.exp(-d / lam)
    np.fill_diagonal(K, 0.0)
    rho = np.max(np.abs(np.linalg.eigvalsh(K))) if side <= 32 else power_rho(K)
    return w_T * K / rho


def power_rho(K, tol=1e-13):
    v = np.ones(K.shape[0]) / np.sqrt(K.shape[0])
    lam = 0.0
    for _ in range(100000):
        w = K @ v
        nxt = v @ w
        v = w / np.linalg.norm(w)
        if abs(nxt - lam) <= tol * abs(nxt):
            return nxt
        lam = nxt
    return lam


def make_rhs(side, T):
    n = side * side
    tau_n, tau_s, tau_ps, tau_pl = 0.01, 0.1, 1.0, 20.0
    beta, gamma_s, gamma_l, pl_max, b = 1.0, 3.0, 0.05, 1.0, 0.5

    def rhs(y, u):
        x = y[:side]
        s = y[side:side + n].reshape(side, side)
        ps = y[side + n:side + 2 * n]
        pl = y[side + 2 * n:]
        Fu = np.tanh(u)
        dx = (-x + np.tanh(s).T @ Fu + b) / tau_n
        psi = np.tanh(ps)
        ds = (-beta * s + np.outer(Fu, np.tanh(x)) + psi.reshape(side, side)) / tau_s
        dps = (-gamma_s * ps + T @ psi + np.tanh(s.ravel())) / tau_ps
        dpl = (-gamma_l * pl + np.tanh(ps) * (1 - pl / pl_max)) / tau_pl
        return np.concatenate([dx, ds.ravel(), dps, dpl])

    return rhs


def rk4(rhs, y, u, steps, dt):
    for _ in range(steps):
        k1 = rhs(y, u)
        k2 = rhs(y + 0.5 * dt * k1, u)
        k3 = rhs(y + 0.5 * dt * k2, u)
        k4 = rhs(y + dt * k3, u)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=None, help="simulate this long in the on phase; report speed")
    ap.add_argument("--cycles", type=int, default=None, help="simulate whole cycles; report p(t)")
    ap.add_argument("--dt", type=float, default=1e-3)
    a = ap.parse_args()
    side, n = a.side, a.side * a.side
    T = build_T(side)
    rhs = make_rhs(side, T)
    y = np.zeros(side + 3 * n)
    on, off = np.ones(side), np.zeros(side)
    if a.seconds is not None:
        steps = int(round(a.seconds / a.dt))
        t0 = time.perf_counter()
        y = rk4(rhs, y, on, steps, a.dt)
        wall = time.perf_counter() - t0
        print(f"numpy rk4 dt={a.dt} side={side} synapses={n}: {wall:.3f} s wall for {a.seconds} s simulated "
              f"= {wall / a.seconds:.3f} wall s per sim s, {n * steps / wall:.3g} synapse-steps/s")
    if a.cycles is not None:
        on_steps, off_steps = int(round(2.0 / a.dt)), int(round(3.0 / a.dt))
        p = [y[side + 2 * n:].mean()]
        for _ in range(a.cycles):
            y = rk4(rhs, y, on, on_steps, a.dt)
            y = rk4(rhs, y, off, off_steps, a.dt)
            p.append(y[side + 2 * n:].mean())
        print("p(t):", " ".join(f"{v:.6f}" for v in p))


if __name__ == "__main__":
    main()
