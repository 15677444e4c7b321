"""Central differences shared by the gradient tests.

A gradient is checked element by element only for tiny arrays (at most
``MAX_ELEMENTWISE`` entries); larger ones are checked along a few random
unit directions ``D``: the central difference ``(f(P + eps D) - f(P - eps
D)) / (2 eps)`` must match ``<grad, D>``. For an isotropic random ``D``, an
error ``E`` in the gradient shifts ``<grad, D>`` by about ``||E|| / sqrt(n)``
against a typical ``||grad|| / sqrt(n)``, so the relative tolerance bounds
``||E|| / ||grad||`` whatever the size ``n`` of ``P``, at the cost of two
evaluations per direction instead of two per entry. A step of length ``eps``
moves each entry by about ``eps / sqrt(n)``, not across the kinks (ReLU, max
pooling) that a step of ``eps`` along every entry at once could cross.
"""

import numpy as np

MAX_ELEMENTWISE = 64


def numeric_grad(f, P, eps=1e-6):
    """d f() / d P by central differences, perturbing ``P`` in place (and
    restoring it) one element at a time."""
    num = np.zeros_like(P)
    for idx in np.ndindex(P.shape):
        old = P[idx]
        P[idx] = old + eps
        up = f()
        P[idx] = old - eps
        down = f()
        P[idx] = old
        num[idx] = (up - down) / (2 * eps)
    return num


def rel_err(a, b):
    """Largest absolute difference relative to the largest entry of ``b``."""
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


def directional_derivatives(f, P, grad, n_directions=3, eps=1e-6, seed=0):
    """``(analytic, numeric)`` derivatives of ``f()`` along ``n_directions``
    random unit directions ``D`` (isotropic, seeded): ``<grad, D>`` and the
    central difference of ``f`` with ``P`` moved in place by ``+-eps D`` (and
    restored exactly)."""
    rng = np.random.default_rng(seed)
    P0 = P.copy()
    analytic, numeric = [], []
    try:
        for _ in range(n_directions):
            D = rng.standard_normal(P.shape)
            D /= np.linalg.norm(D)
            P[...] = P0 + eps * D
            up = f()
            P[...] = P0 - eps * D
            down = f()
            P[...] = P0
            analytic.append(np.vdot(grad, D))
            numeric.append((up - down) / (2 * eps))
    finally:
        P[...] = P0
    return np.array(analytic), np.array(numeric)


def check_directional_derivatives(
    f, P, grad, n_directions=3, eps=1e-6, rtol=1e-6, seed=0
):
    """Assert that ``grad`` is d f() / d P along random directions (see
    :func:`directional_derivatives`), within ``rtol`` of the largest
    numeric derivative."""
    analytic, numeric = directional_derivatives(f, P, grad, n_directions, eps, seed)
    err = rel_err(analytic, numeric)
    assert err < rtol, (
        f"<grad, D> = {analytic} but central differences give {numeric} "
        f"(relative error {err:.3g}, tolerance {rtol:g})"
    )


def check_gradient(f, P, grad, rtol=1e-6, eps=1e-6):
    """Assert that ``grad`` is d f() / d P: element by element when ``P`` is
    tiny (``rel_err`` below ``rtol``), else along random directions."""
    if P.size > MAX_ELEMENTWISE:
        check_directional_derivatives(f, P, grad, eps=eps, rtol=rtol)
        return
    err = rel_err(grad, numeric_grad(f, P, eps))
    assert err < rtol, f"gradient relative error {err:.3g}, tolerance {rtol:g}"
