#!/usr/bin/env python3
"""Draw the figures of an rmaat run file (HDF5) as PNG files.

Usage: plot_run.py RUN.h5 [-o OUTDIR]   (a simulation, calibration or training run file)

Figures, when the run holds the data:
  network_traces.png   mean s, ps, pl and the postsynaptic rates x over time
  network_ltp.png      the LTP curve p(t) (mean pl at every cycle end) with a saturating-exponential fit
  network_stp.png      STP response ps at the end of the first on phase over the synapse positions (an image
                       with one cell per synapse on grids and lines; points for a coordinate file)
  calcium_traces.png   Ca, IP3, h, glutamate and gliotransmitter, with spike and release times
  calibration_ltp.png  (calibration files) the LTP curve with every fitted model
  calibration_rf.png   retention factors RF(t, T) as curves for several T
  calibration_decay.png  spatial STP response vs distance with the exponential fit
  calibration_alpha.png  steady Ca(f) - Ca_rest vs rate with the power-law fit
  training_curves.png  (training runs) loss and accuracy per step with the validation points, the
                       learning rate and the gradient norm; readable while the run trains (open its
                       working file RUN.h5.partial.*)
  training_eval.png    the test confusion matrix and the accuracy per number of segments

Needs only h5py, numpy and matplotlib (Debian: python3-h5py python3-matplotlib).
"""
import argparse
import os
import sys

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fit_saturating(t, p):
    """Least-squares fit of p_sat * (1 - exp(-t / tau)) by a scan over tau (closed form in p_sat)."""
    best = None
    for tau in np.geomspace(0.1, 1e4, 4000):
        basis = 1.0 - np.exp(-t / tau)
        p_sat = basis @ p / (basis @ basis)
        err = np.sum((p - p_sat * basis) ** 2)
        if best is None or err < best[0]:
            best = (err, p_sat, tau)
    return best[1], best[2]


def lattice(pos, values, rtol=1e-6):
    """values on the regular lattice the synapse positions form, as (xs, ys, z) with z[iy, ix] the value at
    (ys[iy], xs[ix]); x is the second coordinate (postsynaptic index j on a grid), y the first (presynaptic i).
    None when the positions are not one value per point of a regular lattice (e.g. a coordinate file)."""
    scale = max(np.abs(pos).max(), 1.0)
    key = np.round(pos / (rtol * scale)).astype(np.int64)
    xk, ix = np.unique(key[:, 1], return_inverse=True)
    yk, iy = np.unique(key[:, 0], return_inverse=True)
    if len(xk) * len(yk) != len(values):
        return None
    z = np.full((len(yk), len(xk)), np.nan)
    z[iy, ix] = values
    if np.isnan(z).any():
        return None
    xs, ys = xk * rtol * scale, yk * rtol * scale
    for v in (xs, ys):
        if len(v) > 2 and not np.allclose(np.diff(v), np.diff(v)[0], rtol=1e-3):
            return None
    return xs, ys, z


def spacing(v):
    return v[1] - v[0] if len(v) > 1 else np.inf


def cell_edges(v, d):
    """Edges of cells of width d centred on the regular points v."""
    if not np.isfinite(d):
        d = 1.0
    return np.concatenate([v - d / 2, [v[-1] + d / 2]])


def status_note(f):
    status = f.attrs.get("status", b"")
    status = status.decode() if isinstance(status, bytes) else str(status)
    return "" if status in ("complete", "") else f" [{status[:60]}]"


def plot_network(f, g, out, note):
    made = []
    tr = g["trace"]
    t = tr["time"][:]
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for name, label in (("s_mean", "synapse s"), ("ps_mean", "STP ps"), ("pl_mean", "LTP pl")):
        axes[0].plot(t, tr[name][:], label=f"mean {label}")
    axes[0].set_ylabel("activity (1)")
    axes[0].legend(loc="upper right")
    axes[0].set_title("network model" + note)
    x = tr["x"][:]
    for j in range(min(x.shape[1], 8)):
        axes[1].plot(t, x[:, j], lw=0.8, label=f"x[{j}]")
    axes[1].set_xlabel("time (s)")
    axes[1].set_ylabel("postsynaptic rate x (1)")
    if x.shape[1] <= 8:
        axes[1].legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path = os.path.join(out, "network_traces.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    made.append(path)

    p = g["ltp"]["pl_mean"][:]
    cycles = np.arange(len(p))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(cycles, p, "o", ms=3, label="p(t): mean pl at cycle end")
    if len(p) > 3 and np.ptp(p) > 0:
        p_sat, tau = fit_saturating(cycles[1:].astype(float), p[1:] - p[0])
        tt = np.linspace(0, cycles[-1], 400)
        ax.plot(tt, p[0] + p_sat * (1 - np.exp(-tt / tau)), "-",
                label=f"fit p_sat(1-exp(-t/tau)): p_sat={p_sat:.3f}, tau={tau:.1f} cycles")
    ax.set_xlabel("cycle t")
    ax.set_ylabel("LTP p(t) (1)")
    ax.set_title("LTP curve" + note)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "network_ltp.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    made.append(path)

    if "stp" in g and g["stp"]["ps"].shape[0] > 0 and "positions" in g:
        ps = g["stp"]["ps"][0, :]
        pos = g["positions"][:]
        grid = lattice(pos, ps)
        line = grid is not None and min(grid[2].shape) == 1
        fig, ax = plt.subplots(figsize=(8, 2.2) if line else (5, 4))
        if grid is not None:  # grid and line geometries: one cell per synapse, no gaps
            xs, ys, z = grid
            if line and len(xs) == 1:  # a line along the first coordinate: draw it across
                xs, ys, z = ys, xs, z.T
            sx, sy = spacing(xs), spacing(ys)  # a line has one row: its cells are square
            im = ax.pcolormesh(cell_edges(xs, sx if np.isfinite(sx) else sy),
                               cell_edges(ys, sy if np.isfinite(sy) else sx), z, cmap="viridis", shading="flat")
        else:  # synapses at arbitrary coordinates (a coordinate file)
            im = ax.scatter(pos[:, 1], pos[:, 0], c=ps, s=max(4, 4000 / len(ps)), cmap="viridis", marker="s")
        fig.colorbar(im, ax=ax, label="ps at end of first\non phase (1)" if line else "ps at end of first on phase (1)")
        ax.set_xlabel("position along the line (um)" if line else "position (um)")
        if line:
            ax.set_yticks([])
        else:
            ax.set_ylabel("position (um)")
        ax.set_title("STP response" + note)
        if not line:  # a line fills the width; grid cells stay square
            ax.set_aspect("equal", adjustable="box" if grid is not None else "datalim")
        fig.tight_layout()
        path = os.path.join(out, "network_stp.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        made.append(path)
    return made


def plot_calcium(f, g, out, note):
    tr = g["trace"]
    t = tr["time"][:]
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    axes[0].plot(t, tr["C"][:], color="tab:red", lw=0.8)
    axes[0].set_ylabel("Ca (uM)")
    if "summary" in g and "mean_ca" in g["summary"]:
        m = float(g["summary"]["mean_ca"][()])
        axes[0].axhline(m, color="k", ls="--", lw=0.8, label=f"steady mean {m:.4f} uM")
        axes[0].legend(loc="upper right", fontsize=8)
    rel = g["releases"]["time"][:] if "releases" in g else np.array([])
    for r in rel:
        axes[0].axvline(r, color="tab:purple", lw=0.5, alpha=0.5)
    axes[0].set_title("calcium model (purple: gliotransmitter releases)" + note)
    axes[1].plot(t, tr["I"][:], lw=0.8, label="IP3 I")
    axes[1].plot(t, tr["h"][:], lw=0.8, label="h")
    axes[1].set_ylabel("uM / 1")
    axes[1].legend(loc="upper right", fontsize=8)
    axes[2].plot(t, tr["Y_S"][:], lw=0.6, label="glutamate Y_S")
    axes[2].set_ylabel("Y_S (uM)")
    ax2 = axes[2].twinx()
    ax2.plot(t, tr["G_A"][:], color="tab:green", lw=0.6)
    ax2.set_ylabel("G_A (uM)", color="tab:green")
    for name in ("x_S", "u_S", "Gamma_S", "Gamma_A", "x_A"):
        axes[3].plot(t, tr[name][:], lw=0.8, label=name)
    axes[3].set_ylabel("fraction (1)")
    axes[3].set_xlabel("time (s)")
    axes[3].legend(loc="upper right", fontsize=7, ncol=5)
    fig.tight_layout()
    path = os.path.join(out, "calcium_traces.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


def fit_params(g):
    names = g.attrs["names"]
    names = names.decode() if isinstance(names, bytes) else str(names)
    return dict(zip(names.split(","), g["params"][:]))


def ltp_model(model, q, t):
    if model == "exp1":
        return q["p_sat"] * (1 - np.exp(-t / q["tau"]))
    if model == "exp2":
        return q["a1"] * (1 - np.exp(-t / q["tau1"])) + q["a2"] * (1 - np.exp(-t / q["tau2"]))
    if model == "hill":
        th = np.power(np.maximum(t, 0), q["h"])
        return q["p_sat"] * th / (th + q["t_half"] ** q["h"])
    return np.full_like(t, np.nan)


def attr(g, name):
    v = g.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


def plot_calibration(f, g, out):
    made = []
    p = g["ltp/p"][:]
    t = np.arange(len(p), dtype=float)
    best = attr(g["ltp"], "best_model")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t, p, "o", ms=3, color="k", label="p(t) from the network model")
    tt = np.linspace(0, t[-1], 400)
    for model in g["ltp/fits"]:
        fg = g["ltp/fits"][model]
        try:
            y = p[0] + ltp_model(model, fit_params(fg), tt)
        except KeyError:
            continue
        status = attr(fg, "status") if "status" in fg.attrs else "converged"
        ax.plot(tt, y, lw=2 if model == best else 1, ls="-" if status == "converged" else ":",
                label=f"{model}: AIC {fg.attrs['aic']:.1f}, R^2 {fg.attrs['r2']:.5f}"
                + (" (chosen)" if model == best else "") + ("" if status == "converged" else f" [{status}]"))
    ax.set_xlabel("cycle t")
    ax.set_ylabel("LTP p(t) (1)")
    ax.set_title("LTP curve and its fits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    made.append(os.path.join(out, "calibration_ltp.png"))
    fig.savefig(made[-1], dpi=120)
    plt.close(fig)

    rf = g["rf"][:]
    T_max = rf.shape[0]
    fig, ax = plt.subplots(figsize=(6, 4))
    for T in [T for T in (2, 4, 8, 16, 32, 64, 128) if T <= T_max]:
        ax.plot(np.arange(1, T + 1), rf[T - 1, :T], "o-", ms=2, label=f"T = {T}")
    ax.set_xlabel("segment t")
    ax.set_ylabel("RF(t, T)")
    ax.set_title(f"retention factors ({attr(g, 'rf_source')})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    made.append(os.path.join(out, "calibration_rf.png"))
    fig.savefig(made[-1], dpi=120)
    plt.close(fig)

    d, y = g["spatial/distance"][:], g["spatial/response"][:]
    q = fit_params(g["spatial/fit"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(d, y, "o", ms=3, label="ps at the end of the on phase")
    dd = np.linspace(0, d.max(), 200)
    ax.semilogy(dd, q["A"] * np.exp(-dd / q["lambda"]), label=f"A exp(-d / lambda), lambda = {q['lambda']:.3g} dx")
    ax.set_xlabel("distance to the focal synapse (dx)")
    ax.set_ylabel("STP response ps (1)")
    ax.set_title(f"position decay: scale = {float(g['scale'][()]):.4g} per token")
    ax.legend(fontsize=8)
    fig.tight_layout()
    made.append(os.path.join(out, "calibration_decay.png"))
    fig.savefig(made[-1], dpi=120)
    plt.close(fig)

    rate, ca, rest = g["calcium/rate"][:], g["calcium/mean_ca"][:], float(g["calcium/ca_rest"][()])
    q = fit_params(g["calcium/fit"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(rate, ca - rest, "o", label="steady mean Ca - Ca_rest")
    ff = np.geomspace(rate.min(), rate.max(), 200)
    ax.loglog(ff, q["a"] * ff ** q["alpha"], label=f"a f^alpha, alpha = {q['alpha']:.3g} (R^2 {g['calcium/fit'].attrs['r2']:.3f})")
    ax.set_xlabel("presynaptic rate f (Hz)")
    ax.set_ylabel("Ca(f) - Ca_rest (uM)")
    ax.set_title(f"calcium exponent: alpha = {float(g['alpha'][()]):.4g} ({attr(g, 'alpha_source')})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    made.append(os.path.join(out, "calibration_alpha.png"))
    fig.savefig(made[-1], dpi=120)
    plt.close(fig)
    return made


def smooth(y, n):
    """Running mean over n points (the first points over what there is)."""
    y = np.asarray(y, dtype=float)
    if n <= 1 or y.size == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    out = np.empty_like(y)
    k = np.arange(1, y.size + 1)
    lo = np.maximum(k - n, 0)
    out[:] = (c[k] - c[lo]) / (k - lo)
    return out


def plot_training(f, out, note):
    m = f["train/metrics"]
    step = m["step"][:]
    if step.size == 0:
        return []
    n = max(1, step.size // 50)
    fig, ax = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for a, key, label in ((ax[0, 0], "loss", "loss"), (ax[0, 1], "accuracy", "accuracy")):
        a.plot(step, m[key][:], lw=0.5, alpha=0.35, color="C0", label="train (per step)")
        a.plot(step, smooth(m[key][:], n), color="C0", label=f"train (mean of {n})")
        if "train/eval/step" in f and f["train/eval/step"].size:
            a.plot(f["train/eval/step"][:], f[f"train/eval/{key}"][:], "o-", color="C3", label="validation")
        a.set_ylabel(label)
        a.legend(fontsize=8)
    ax[1, 0].plot(step, m["lr"][:], color="C2")
    ax[1, 0].set_ylabel("learning rate")
    ax[1, 1].semilogy(step, np.maximum(m["grad_norm"][:], 1e-12), lw=0.7, label="parameters (before clipping)")
    if "memory_grad_norm" in m:
        ax[1, 1].semilogy(step, np.maximum(m["memory_grad_norm"][:], 1e-12), lw=0.7, label="initial memory")
    ax[1, 1].set_ylabel("gradient norm")
    ax[1, 1].legend(fontsize=8)
    for a in ax[1]:
        a.set_xlabel("step")
    fig.suptitle(f"training ({step.size} steps){note}")
    fig.tight_layout()
    path = os.path.join(out, "training_curves.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    made = [path]
    if "eval/confusion" in f:
        e = f["eval"]
        conf = e["confusion"][:]
        fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
        im = ax[0].imshow(conf, cmap="Blues")
        fig.colorbar(im, ax=ax[0], label="examples")
        ax[0].set_xlabel("predicted class")
        ax[0].set_ylabel("true class")
        fig.suptitle(f"test accuracy {float(e['accuracy'][()]):.3f} (majority class {float(e['majority'][()]):.3f})")
        ax[1].bar(e["bucket_segments"][:].astype(int).astype(str), e["bucket_accuracy"][:])
        ax[1].set_xlabel("segments per example")
        ax[1].set_ylabel("accuracy")
        ax[1].set_ylim(0, 1)
        fig.tight_layout()
        path = os.path.join(out, "training_eval.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="run file (HDF5) written by rmaat")
    ap.add_argument("-o", "--out", default=None, help="output directory (default: next to the run file)")
    args = ap.parse_args(argv)
    out = args.out or os.path.splitext(args.run)[0] + "_plots"
    os.makedirs(out, exist_ok=True)
    try:
        f = h5py.File(args.run, "r")
    except OSError as e:
        sys.exit(f"plot_run: cannot open {args.run}: {e}")
    made = []
    with f:
        note = status_note(f)
        if "sim/network" in f:
            made += plot_network(f, f["sim/network"], out, note)
        if "sim/calcium" in f:
            made += plot_calcium(f, f["sim/calcium"], out, note)
        if "calibration" in f:
            made += plot_calibration(f, f["calibration"], out)
        if "train/metrics" in f:
            made += plot_training(f, out, note)
    if not made:
        sys.exit(f"plot_run: {args.run} holds no simulation, calibration or training to plot")
    for p in made:
        print(p)


if __name__ == "__main__":
    main()
