r"""Closed forms for the text metrics of the language-model families (`jaxcollapse.Transformer`).

A trained transformer has no closed-form collapse law; what has exact expectations is its yardstick. A
network whose logits do not depend on the context (a *unigram table*: read-out weights 0, read-out bias
$\ell$) emits i.i.d. characters, drawn from the decoding distribution $q$ of `decoding_distribution`, so
its text metrics have exact finite-sample expectations. They pin down the sampler (temperature, top-k,
top-p) and the metric code (log-likelihood scoring, word counting, distinct-$n$), which every trained
generation shares.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["decoding_distribution", "cross_entropy", "expected_distinct_fraction", "expected_sample_perplexity",
           "string_probabilities"]


def decoding_distribution(logits, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> np.ndarray:
    r"""The distribution $q$ one decoding step draws from, given the logits $\ell$ (float64).

    $q_i \propto e^{\ell_i/\tau}$ restricted to (i) the $k$ largest logits when $k > 0$ (top-k sampling,
    Fan, Lewis and Dauphin 2018, "Hierarchical neural story generation", ACL), then
    (ii) the smallest set of most probable characters whose probability under the top-k distribution
    reaches $p$ (nucleus sampling, Holtzman et al. 2020, "The curious case of neural text degeneration",
    ICLR: the set $V^{(p)}$ with $\sum_{x \in V^{(p)}} P(x) \ge p$), renormalised. Characters ordered by
    decreasing probability, character $j$ is kept iff the mass of those before it is below $p$.
    Derived here from those definitions (no ties between logits assumed).
    """
    lg = np.asarray(logits, np.float64) / float(temperature)
    V = lg.size
    keep = np.ones(V, bool)
    if 0 < top_k < V:
        keep &= lg >= np.sort(lg)[::-1][top_k - 1]
    w = np.where(keep, np.exp(lg - lg[keep].max()), 0.0)
    q = w / w.sum()
    if top_p < 1.0:
        order = np.argsort(-q, kind="stable")
        before = np.cumsum(q[order]) - q[order]
        nucleus = np.zeros(V, bool)
        nucleus[order] = before < top_p
        q = np.where(nucleus, q, 0.0)
        q = q / q.sum()
    return q


def cross_entropy(q, p) -> float:
    r"""$H(q, p) = -\sum_i q_i \ln p_i$ (nats): the expected negative log-likelihood under $p$ of one character
    drawn from $q$, so the expected log-perplexity under $p$ of any number of i.i.d. draws from $q$
    (linearity of expectation). $+\infty$ where $q_i > 0 = p_i$."""
    q, p = np.asarray(q, np.float64), np.asarray(p, np.float64)
    on = q > 0
    with np.errstate(divide="ignore"):
        return float(-np.sum(q[on] * np.log(p[on])))


def string_probabilities(q, length: int) -> np.ndarray:
    r"""The probabilities of the $|S|^L$ strings of `length` $L$ over the support $S$ of $q$, for i.i.d.
    characters: $\pi_s = \prod_{l} q_{s_l}$ (the law of one whole row of a unigram table)."""
    q = np.asarray(q, np.float64)
    support = q[q > 0]
    return np.array([np.prod(c) for c in itertools.product(support, repeat=int(length))])


def expected_distinct_fraction(probs, m: int) -> float:
    r"""$E[D]/m$ where $D$ is the number of distinct items among $m$ i.i.d. draws from the law `probs`:

    $$\frac{E[D]}{m} = \frac1m\sum_s \bigl(1 - (1 - \pi_s)^m\bigr).$$

    Derived here: $D = \sum_s \mathbf 1[s \text{ drawn at least once}]$ and
    $P(s \text{ never drawn}) = (1 - \pi_s)^m$ (the classical occupancy expectation, e.g. Feller 1968, Vol. I, on
    occupancy problems). For a unigram table whose decoding support holds no whitespace, each row is one word,
    so this is the expected ``distinct_1`` of `n_eval` $= m$ rows with $\pi$ = `string_probabilities`.
    """
    pi = np.asarray(probs, np.float64)
    return float(np.sum(-np.expm1(m * np.log1p(-np.minimum(pi, 1.0)))) / m)


def expected_sample_perplexity(q, p, length: int) -> float:
    r"""$Eigl[\expigl(-	frac1L\sum_{l=1}^L \ln p(x_l)igr)igr]$ for $L$ i.i.d. characters $x_l \sim q$: the
    expected perplexity under $p$ of one sample of $L$ characters,

    $$E = \Bigl(\sum_i q_i\, p_i^{-1/L}\Bigr)^L.$$

    Derived here: the exponential of a sum of independent terms is a product, so its expectation is the
    product of the $L$ equal factors $E[p(x)^{-1/L}] = \sum_i q_i p_i^{-1/L}$. The mean of the per-sample
    perplexities of a unigram table's text under a unigram generation 0 (the metric ``ppl0_mean``).
    """
    q, p = np.asarray(q, np.float64), np.asarray(p, np.float64)
    on = q > 0
    return float(np.sum(q[on] * p[on] ** (-1.0 / length)) ** length)
