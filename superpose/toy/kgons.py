"""The TMS potential of Chen, Lau, Mendel, Wei & Murfet (2023) and its k-gon critical points.

"Dynamical versus Bayesian Phase Transitions in a Toy Model of Superposition" (arXiv:2310.06301) studies
the toy model f(x) = ReLU(WᵀW x + b) with c features and two hidden dimensions (here `relu_output`, whose
W_FxH holds the paper's columns W_i as rows) in the high-sparsity limit: an input is x = μ e_i, i uniform
over the c features and μ ~ U[0, 1] (superpose's `anticorrelated` data with one set of all c features,
density 1). The population loss

    H(W, b) = E ‖x − f(x)‖² = (1/c) Σ_i ∫₀¹ [(μ − ReLU(‖W_i‖² μ + b_i))² + Σ_{j≠i} ReLU(W_j·W_i μ + b_j)²] dμ

is a sum of integrals of squared piecewise-linear functions, so it has a closed form (`potential`): every
term is a polynomial integrated over the interval of [0, 1] where its ReLU is on. superpose's toy loss is
the mean over the c outputs, H / c.

With two hidden dimensions the regular k-gons are critical points: k rows of equal length l at angles 2πj/k,
their biases b equal, and the other c − k rows zero. A dead row's bias is either 1/(2c) (`+`: the constant
output that best fits its feature, E[x_j]) or any negative value (`-`: off, a flat direction). `kgon` builds
them with l and b at the optimum of the symmetric family; `classify` names the k-gon a trained model is
near; `learning_coefficient` gives the learning coefficient of a critical point whose zero set is locally a
manifold (Morse-Bott): half the rank of the Hessian.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from superpose import results
from superpose.toy.models import MODELS
from superpose.train import rng
from superpose.train.learner import Learner

DEAD_NEGATIVE_BIAS = -0.5
"""The bias of a `-` dead row: any negative value is a critical point (the row is off everywhere near it)."""


def _on_interval(a, b, xp):
    """[lo, hi] ⊂ [0, 1] where a μ + b > 0 (empty: lo = hi)."""
    safe = xp.where(a == 0, 1.0, a)
    root = xp.clip(-b / safe, 0.0, 1.0)
    lo = xp.where(a > 0, root, xp.where(a < 0, 0.0, xp.where(b > 0, 0.0, 1.0)))
    hi = xp.where(a > 0, 1.0, xp.where(a < 0, root, 1.0))
    return lo, hi


def _relu_square(a, b, xp):
    """∫₀¹ ReLU(a μ + b)² dμ."""
    lo, hi = _on_interval(a, b, xp)
    return a * a * (hi**3 - lo**3) / 3 + a * b * (hi**2 - lo**2) + b * b * (hi - lo)


def _self_term(a, b, xp):
    """∫₀¹ (μ − ReLU(a μ + b))² dμ."""
    lo, hi = _on_interval(a, b, xp)
    cross = a * (hi**3 - lo**3) / 3 + b * (hi**2 - lo**2) / 2
    return 1.0 / 3.0 - 2.0 * cross + _relu_square(a, b, xp)


def potential(W_FxH, b_F, xp=jnp):
    """H(W, b) = E ‖x − ReLU(WᵀW x + b)‖² under the high-sparsity distribution, exactly (module doc); `xp`
    is jax.numpy (differentiable, any float type) or numpy (float64, fast for one point)."""
    gram_FxF = W_FxH @ W_FxH.T  # [i, j] = W_i · W_j
    c = W_FxH.shape[0]
    interference = _relu_square(gram_FxF.T, b_F[None, :], xp)  # [i, j]: output j while feature i is on
    off_diagonal = xp.sum(interference * (1 - xp.eye(c)))
    own = xp.sum(_self_term(xp.diagonal(gram_FxF), b_F, xp))
    return (own + off_diagonal) / c


def potential_by_quadrature(W_FxH: np.ndarray, b_F: np.ndarray) -> float:
    """H(W, b) by adaptive quadrature over μ with every ReLU's kink as a breakpoint: an independent check of
    `potential`."""
    import scipy.integrate

    W, b = np.asarray(W_FxH, np.float64), np.asarray(b_F, np.float64)
    c = W.shape[0]
    total = 0.0
    for i in range(c):
        slopes = W @ W[i]
        kinks = [-b[j] / s for j, s in enumerate(slopes) if s != 0 and 0 < -b[j] / s < 1]

        def error(mu, i=i, slopes=slopes):
            out = np.maximum(slopes * mu + b, 0.0)
            x = np.zeros(c)
            x[i] = mu
            return float(np.sum((x - out) ** 2))

        total += scipy.integrate.quad(error, 0.0, 1.0, points=kinks or None, epsabs=1e-14, epsrel=1e-13)[0]
    return total / c


@dataclasses.dataclass(frozen=True)
class KGon:
    """A k-gon critical point of the c-feature, 2-dimensional model."""

    k: int
    dead_signs: str
    """One character per dead row: `+` (bias 1/(2c)) or `-` (negative bias); empty for k = c."""
    W_FxH: np.ndarray
    b_F: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.k}{self.dead_signs}"

    @property
    def loss(self) -> float:
        return float(_potential64(self.W_FxH, self.b_F))


def _with_x64(fn):
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapped


def _potential64(W_FxH, b_F) -> float:
    return float(potential(np.asarray(W_FxH, np.float64), np.asarray(b_F, np.float64), np))


def _polygon(k: int, c: int, length: float, bias: float, dead_signs: str) -> tuple[np.ndarray, np.ndarray]:
    angles = 2 * np.pi * np.arange(k) / k
    W = np.zeros((c, 2))
    W[:k] = length * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    b = np.full(c, bias, np.float64)
    b[k:] = [1 / (2 * c) if s == "+" else DEAD_NEGATIVE_BIAS for s in dead_signs]
    return W, b


def kgon(k: int, c: int, dead_signs: str = "") -> KGon:
    """The regular k-gon of c features (rows k..c-1 dead, with `dead_signs`): l and b minimise H over the
    symmetric family (from several starts), which makes the point critical for the full H by symmetry."""
    if not 1 <= k <= c or len(dead_signs) != c - k or set(dead_signs) - {"+", "-"}:
        raise ValueError(f"a {k}-gon of {c} features needs {c - k} dead-row signs (+/-), got {dead_signs!r}")

    W, b = _polygon(k, c, *_optimum(k, c), dead_signs)
    return KGon(k, dead_signs, W, b)


@functools.lru_cache(maxsize=None)
def _optimum(k: int, c: int) -> tuple[float, float]:
    """(l, b) of the k-gon of c features. The dead rows' signs only add a constant to H (a dead row's output
    is its own bias whatever the input), so one optimisation serves every sign pattern."""
    dead = "-" * (c - k)

    def family(p):
        return _potential64(*_polygon(k, c, p[0], p[1], dead))

    best = min(
        (
            scipy.optimize.minimize(
                family, start, method="Nelder-Mead", options=dict(xatol=1e-12, fatol=1e-15, maxiter=20_000)
            )
            for start in ([1.0, 0.0], [1.0, -0.3], [1.2, -0.5], [0.8, 0.1])
        ),
        key=lambda r: r.fun,
    )
    return float(best.x[0]), float(best.x[1])


def kgons(c: int, ks=None) -> list[KGon]:
    """Every k-gon of c features for k in `ks` (default 2..c), with every multiset of dead-row signs."""
    found = []
    for k in ks or range(2, c + 1):
        for n_plus in range(c - k, -1, -1):
            found.append(kgon(k, c, "+" * n_plus + "-" * (c - k - n_plus)))
    return found


@_with_x64
def gradient(W_FxH, b_F) -> np.ndarray:
    """∇H at (W, b), flattened (W row-major, then b)."""
    W, b = jnp.asarray(W_FxH, jnp.float64), jnp.asarray(b_F, jnp.float64)
    grad_FxH, grad_F = jax.grad(potential, argnums=(0, 1))(W, b)
    return np.concatenate([np.ravel(grad_FxH), np.ravel(grad_F)])


@_with_x64
def hessian(W_FxH, b_F) -> np.ndarray:
    """The Hessian of H in the flattened parameters (W row-major, then b)."""
    theta = jnp.concatenate([jnp.ravel(jnp.asarray(W_FxH, jnp.float64)), jnp.asarray(b_F, jnp.float64)])
    return np.asarray(_flat_hessian(theta, np.shape(W_FxH)))


@functools.partial(jax.jit, static_argnums=1)
def _flat_hessian(theta, shape):
    c, h = shape
    return jax.hessian(lambda t: potential(t[: c * h].reshape(c, h), t[c * h :]))(theta)


def _spectrum(point: KGon, tol: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The Hessian's eigenvalues and eigenvectors, and the size below which an eigenvalue counts as zero."""
    eigenvalues, vectors = np.linalg.eigh(hessian(point.W_FxH, point.b_F))
    return eigenvalues, vectors, tol * max(1.0, eigenvalues.max())


def learning_coefficient(point: KGon, tol: float = 1e-7) -> float:
    """rank(Hessian) / 2: the learning coefficient where the critical set is locally a manifold (Morse-Bott:
    every direction the Hessian does not see is exactly flat, as the rotation and a dead row's directions
    are); `flat_directions_are_flat` checks that assumption."""
    eigenvalues, _, zero = _spectrum(point, tol)
    return float(np.sum(eigenvalues > zero)) / 2


def index(point: KGon, tol: float = 1e-7) -> int:
    """The number of negative Hessian eigenvalues: 0 for a local minimum (to second order)."""
    eigenvalues, _, zero = _spectrum(point, tol)
    return int(np.sum(eigenvalues < -zero))


def flat_directions_are_flat(point: KGon, step: float = 1e-3, tol: float = 1e-7) -> bool:
    """Every null direction of the Hessian, a small step along it (and for the rotation, along the orbit)
    changes H by far less than a quadratic direction would (the Morse-Bott assumption of
    `learning_coefficient`)."""
    eigenvalues, vectors, zero = _spectrum(point, tol)
    c, h = point.W_FxH.shape
    base = point.loss
    smallest_quadratic = min([e for e in eigenvalues if e > zero], default=max(1.0, eigenvalues.max()))
    for e, v in zip(eigenvalues, vectors.T, strict=True):
        if abs(e) > zero:
            continue
        rise = []
        for sign in (1, -1):
            theta = np.concatenate([np.ravel(point.W_FxH), point.b_F]) + sign * step * v
            rise.append(_potential64(theta[: c * h].reshape(c, h), theta[c * h :]) - base)
        # along a rotation the first-order step leaves the orbit by step², a rise of order step⁴
        if max(rise) > 0.01 * smallest_quadratic * step**2:
            return False
    return True


def classify(W_FxH: np.ndarray, b_F: np.ndarray, *, on: float = 0.5, angle_tol: float = 0.35) -> str:
    """The k-gon a 2-dimensional model is near: k = the rows longer than `on` x the longest, `+`/`-` for each
    other row by the sign of its bias (the name `kgon` gives), or `other` when the long rows' consecutive
    angles differ from 2π/k by more than `angle_tol` radians or the model is not 2-dimensional."""
    W, b = np.asarray(W_FxH, np.float64), np.asarray(b_F, np.float64)
    if W.shape[1] != 2:
        return "other"
    norms = np.linalg.norm(W, axis=1)
    if norms.max() <= 0:
        return "0" + "".join("+" if v > 0 else "-" for v in sorted(b, reverse=True))
    alive = norms > on * norms.max()
    k = int(alive.sum())
    angles = np.sort(np.arctan2(W[alive, 1], W[alive, 0]))
    gaps = np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi]))
    if k > 1 and np.max(np.abs(gaps - 2 * np.pi / k)) > angle_tol:
        return "other"
    signs = "".join("+" if v > 0 else "-" for v in sorted(b[~alive], reverse=True))
    return f"{k}{signs}"


@dataclasses.dataclass(frozen=True)
class PotentialSettings:
    c: int = 6
    steps: int = 1
    log_every: int = 1


@dataclasses.dataclass(frozen=True)
class PotentialLearner(Learner):
    """The `relu_output` toy model of c features and 2 dimensions with the exact population loss H as its loss
    (no data): what `llc.estimate` samples to measure the learning coefficient of H itself at a critical
    point. Trains with plain gradient descent (learning rate from the per-instance hyper) when used as a
    learner."""

    config: PotentialSettings = PotentialSettings()

    def init(self, seed, hyper):
        return MODELS.get("relu_output")(self.config.c, 2, rng.key(seed)), None

    def optimizer(self, hyper):
        return optax.sgd(hyper)

    def batch(self, carry, hyper, data, t):
        return None

    def loss(self, model, batch, hyper, carry):
        return potential(model.W_FxH[...], model.b_F[...]), None

    def bytes_per_instance(self) -> int:
        return 4 * 64 * self.config.c * self.config.c


class CriticalPoints(results.Run, kind="kgon_critical_points", job_key="job"):
    """A folder of k-gon critical points: arrays `W`, `b` (point axis first), `loss` (closed form),
    `loss_quadrature`, `llc_theory`, `index`, `morse_bott`, `llc`, `llc_std`, `llc_chains`, and the chain
    census `census` (sample size x name); summary `names` (the points') and `census_names`."""


class Trajectories(results.Run, kind="kgon_trajectories", job_key="job"):
    """k-gons visited by SGD runs: arrays `label` (run x checkpoint, an index into summary `names`, -1 for a
    configuration that is no regular k-gon), `step`, `loss`, and λ̂ at the checkpoints of the first runs
    `llc`, `llc_std` (run x checkpoint); summary `names`, `transitions` (from, to, count)."""
