r"""Checks of the bigram language model (`jaxcollapse.Bigram`) against `jaxcollapse.theory.ngram`.

Every comparison is exact (rule ``"z"``, $|z| <$ `verify.Z_BOUND`): Monte Carlo means over chains
with their standard errors, fixed keys. Configurations (static shapes) are shared so that the five
checks compile four programs:

- the *one-transition* configuration: $V = 8$ Zipfian truth (support 4), sequences of length
  $L = 2$, $m = 20$ per generation, replace, 10 generations; the initial distribution is refit
  (`ngram.initial_diversity`) or held fixed (`ngram.row_diversity`, `ngram.row_mean`) — a traced
  flag, like the smoothing $\alpha \in \{0, 0.05\}$, so one compiled program serves all three;
- the same with accumulated counts (`ngram.accumulate_diversity`);
- the *sampler* configuration: one generation's bigram counts of $m = 20$ sequences of length
  $L = 6$, at temperatures 1 and 0.7 (`ngram.expected_counts`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import random as R
from .. import regimes
from ..families.ngram import Bigram
from ..theory import ngram as mk
from ._core import compare_z, keys, means, register, scaled_chains, sim

_V, _SUPPORT, _M, _G = 8, 4, 20, 10
# Generations compared: by t = 10 (alpha = 0) the mean diversity is 2% of its start and carried by a few
# chains whose rows have not fixed yet, a skewed mean whose normal |z| rule is no longer reliable; t <= 6
# keeps it above 10%.
_TS = (1, 3, 6)
_ALPHAS = (0.0, 0.05)
_SEDDIK = "Seddik et al. 2024 (per-context Wright-Fisher decay); derived here (random visits)"


def _truth(length: int, *, smoothing=0.0, refit_initial=True) -> Bigram:
    # a fixed truth for every check: made from key 11, independent of the check's key
    return Bigram.zipf(jax.random.key(11), _V, support=_SUPPORT, length=length, smoothing=smoothing,
                       refit_initial=refit_initial)


def _one_transition(key, scale, *, smoothing, refit_initial):
    model = _truth(2, smoothing=smoothing, refit_initial=refit_initial)
    traj = sim(key, model, regimes.replace(_M), _G, scaled_chains(40_000, scale),
               ("gini_simpson", "initial_gini_simpson"), path="samples")
    return model, traj


@register("ngram.initial_diversity", family="ngram", source="Seddik et al. 2024; Wright-Fisher",
          description="refit initial-token distribution (m = 20 first tokens): E[1 - sum mu_t^2] = (1 - 1/m)^t H_0 "
                      "(alpha = 0) and the smoothed affine recursion (alpha = 0.05)")
def _initial_diversity(key, scale):
    name = "ngram.initial_diversity"
    out = []
    for k, a in zip(keys(key, 2), _ALPHAS, strict=True):
        model, traj = _one_transition(k, scale, smoothing=a, refit_initial=True)
        s = mk.initial_simpson_mean(jnp.asarray(_TS), _M, model.initial, a)
        out += means(name, traj, "initial_gini_simpson", _TS, 1.0 - np.asarray(s), quantity=f"alpha={a:g}")
    return out


@register("ngram.row_diversity", family="ngram", source=_SEDDIK,
          description="L = 2, fixed initial q: each row is Wright-Fisher with Binomial(m, q_i) visits; "
                      "E gini_simpson_t from E S' = A + B S (alpha = 0 and 0.05; unvisited rows kept)")
def _row_diversity(key, scale):
    name = "ngram.row_diversity"
    out = []
    for k, a in zip(keys(key, 2), _ALPHAS, strict=True):
        model, traj = _one_transition(k, scale, smoothing=a, refit_initial=False)
        P0, q = model.transition, model.initial
        A, B = mk.simpson_coefficients(mk.binomial_visits(_M, q), _V, a)
        S = mk.simpson_index_mean(jnp.asarray(_TS), jnp.sum(P0 * P0, axis=1), A, B)  # (T, V)
        pi = mk.stationary_distribution(P0)
        theory = np.asarray(jnp.sum(pi[None, :] * (1.0 - S), axis=1))
        out += means(name, traj, "gini_simpson", _TS, theory, quantity=f"alpha={a:g}")
    return out


@register("ngram.accumulate_diversity", family="ngram", source="derived here",
          description="L = 2, fixed initial, accumulated bigram counts (alpha = 0): E[1 - S_t] = "
                      "E[prod_s (1 - N_s/T_s^2)] (1 - S_0), T_s the visits so far (exact recursion over T)")
def _accumulate_diversity(key, scale):
    name = "ngram.accumulate_diversity"
    ts = (1, 3, 10)
    model = _truth(2, refit_initial=False)
    traj = sim(key, model, regimes.accumulate(_M), _G, scaled_chains(40_000, scale), ("gini_simpson",), path="samples")
    P0 = model.transition
    factor = mk.accumulate_heterozygosity_factor(_G, mk.binomial_visits(_M, model.initial))  # (G + 1, V)
    H0 = 1.0 - jnp.sum(P0 * P0, axis=1)
    pi = mk.stationary_distribution(P0)
    theory = np.asarray(jnp.sum(pi[None, :] * H0[None, :] * factor, axis=1))[np.asarray(ts)]
    return means(name, traj, "gini_simpson", ts, theory, quantity="accumulate alpha=0")


def _row_entries(P0: np.ndarray) -> list[tuple[int, int]]:
    """Four entries to follow: the largest and smallest positive entry of rows 0 and 1, and one zero entry."""
    out = []
    for i in (0, 1):
        pos = np.flatnonzero(P0[i] > 0)
        out += [(i, int(pos[np.argmax(P0[i, pos])])), (i, int(pos[np.argmin(P0[i, pos])]))]
    out.append((2, int(np.flatnonzero(P0[2] == 0)[0])))
    return out


@register("ngram.row_mean", family="ngram", source="derived here",
          description="L = 2, fixed initial: E P_t = u + c^t (P_0 - u), c_i = E[N/(N + V alpha)]; a martingale for "
                      "alpha = 0 (unvisited rows kept), smoothing toward uniform for alpha = 0.05")
def _row_mean(key, scale):
    name = "ngram.row_mean"
    out = []
    for k, a in zip(keys(key, 2), _ALPHAS, strict=True):
        model, traj = _one_transition(k, scale, smoothing=a, refit_initial=False)
        P0 = np.asarray(model.transition)
        c = mk.row_mean_contraction(mk.binomial_visits(_M, model.initial), _V, a)
        EP = np.asarray(mk.row_mean(jnp.asarray(_G), model.transition, c))
        final = np.asarray(traj.final.transition, np.float64)  # (chains, V, V) at t = G
        for i, j in _row_entries(P0):
            if a == 0.0 and P0[i, j] == 0:
                continue  # a lost transition stays exactly 0 without smoothing: nothing random to compare
            out += _mean_z(name, f"P[{i},{j}] alpha={a:g}", _G, final[:, i, j], EP[i, j])
    return out


def _mean_z(name: str, quantity: str, t: int, x: np.ndarray, theory) -> list:
    x = np.asarray(x, np.float64)
    return [compare_z(name, quantity, t, float(theory), x.mean(), x.std() / np.sqrt(x.size))]


_LC = 6  # sequence length of the sampler check


@jax.jit
def _counts(key_data, model: Bigram, tau, chain_ids):
    def one(c):
        stream = R.Stream(key_data, c)
        st = model.stats(model.draw_samples(stream, _M, tau))
        return st.transitions, st.initial

    return jax.vmap(one)(chain_ids)


@register("ngram.expected_counts", family="ngram", source="derived here (Markov chain marginals)",
          description="one generation, m = 20 sequences of length 6: E C_ij = m sum_{s<=L-2} (mu P^s)_i P_ij and "
                      "E first-token counts = m mu, at temperature 1 and 0.7 (the sampler's exactness in law)")
def _expected_counts(key, scale):
    name = "ngram.expected_counts"
    model = _truth(_LC)
    chains = scaled_chains(20_000, scale)
    ids = jnp.arange(chains, dtype=jnp.uint32)
    out = []
    for k, tau in zip(keys(key, 2), (1.0, 0.7), strict=True):
        trans, first = _counts(jax.random.key_data(k), model, jnp.asarray(tau, model.dtype), ids)
        mu_t, P_t = mk.tempered(model.initial, tau), mk.tempered(model.transition, tau)
        EC = np.asarray(mk.expected_transition_counts(P_t, mu_t, _M, _LC))
        EF = np.asarray(mk.expected_initial_counts(mu_t, _M))
        trans, first = np.asarray(trans, np.float64), np.asarray(first, np.float64)
        # the three largest and the two smallest positive expected counts, and two first-token counts
        flat = np.flatnonzero(EC.reshape(-1) > 0)
        order = flat[np.argsort(EC.reshape(-1)[flat])]
        for f in list(order[-3:]) + list(order[:2]):
            i, j = divmod(int(f), _V)
            out += _mean_z(name, f"C[{i},{j}] tau={tau:g}", 1, trans[:, i, j], EC[i, j])
        for i in (int(np.argmax(EF)), int(np.argmin(EF))):
            out += _mean_z(name, f"F[{i}] tau={tau:g}", 1, first[:, i], EF[i])
    return out
