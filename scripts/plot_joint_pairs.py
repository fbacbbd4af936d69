"""Pair plots of the joint posterior's hard directions, divergent draws in red (docs/img/).

Run: .venv/bin/python scripts/plot_joint_pairs.py POSTERIOR.nc OUT.png
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bayeslaw.posterior.card import load

fit = load(sys.argv[1])
post = fit.idata["posterior"].to_dataset()
div = fit.idata["sample_stats"]["diverging"].values.ravel().astype(bool)
candidates = (("log_d1", "log_k"), ("log_d1", "log_break_ref"), ("log_d1", "log_slope_ref"),
              ("gamma_p", "log_data_amp_lo"), ("gamma_p", "log_data_ratio"), ("c0", "P"))
pairs = [(a, b) for a, b in candidates if a in post and b in post]
fig, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.6))
for ax, (x, y) in zip(axes, pairs, strict=True):
    xs, ys = post[x].values.ravel(), post[y].values.ravel()
    ax.scatter(xs[~div], ys[~div], s=2, alpha=0.25, color="0.3")
    ax.scatter(xs[div], ys[div], s=14, color="crimson", label=f"divergent ({div.sum()})")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"corr {np.corrcoef(xs, ys)[0, 1]:+.2f}")
axes[0].legend(loc="best", fontsize=8)
fig.suptitle(f"{sys.argv[1]}: {fit.card['spec'].get('preset')} priors, "
             f"target_accept {fit.card['sampler']['target_accept']}")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print("written", sys.argv[2])
