import numpy as np
import pytest
import torch
from open_clip.loss import ClipLoss

from fairnb import losses


def sorted_half_w2(x, y):
    """Independent oracle: 1/2 W2^2 of equal-size samples, sorted."""
    return 0.5 * np.mean((np.sort(x) - np.sort(y)) ** 2)


def test_clip_loss_equals_open_clip():
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=1)
    ours = losses.clip_loss(img, txt, torch.tensor(14.3))
    theirs = ClipLoss()(img, txt, torch.tensor(14.3))
    torch.testing.assert_close(ours, theirs)


def test_sinkhorn_small_blur_is_half_w2_squared_of_sorted_samples():
    rng = np.random.default_rng(0)
    x, y = rng.random(32), rng.random(32) * 0.5 + 0.3
    got = losses.sinkhorn_distance(torch.tensor(x), torch.tensor(y),
                                   blur=1e-6)
    np.testing.assert_allclose(float(got), sorted_half_w2(x, y), rtol=1e-12)


def exact_half_w2(x, y):
    """Oracle: 1/2 W2^2 of two 1-D empirical distributions, integrating
    the squared difference of their quantile functions exactly over the
    merged breakpoints i/n and j/m."""
    x, y = np.sort(x), np.sort(y)
    q = np.union1d(np.arange(len(x) + 1) / len(x),
                   np.arange(len(y) + 1) / len(y))
    mid = (q[:-1] + q[1:]) / 2
    fx = x[np.minimum((mid * len(x)).astype(int), len(x) - 1)]
    fy = y[np.minimum((mid * len(y)).astype(int), len(y) - 1)]
    return 0.5 * np.sum(np.diff(q) * (fx - fy) ** 2)


def log_sinkhorn_divergence(x, y, *, blur, iters=5000):
    """Oracle: the Sinkhorn divergence (self-terms subtracted) with
    geomloss' semantics (cost 1/2 |x - y|^2, epsilon = blur^2, uniform
    weights), by plain log-domain Sinkhorn iterations on the dual
    potentials."""
    from scipy.special import logsumexp
    eps = blur ** 2

    def ot_eps(a, b):
        cost = 0.5 * (a[:, None] - b[None, :]) ** 2
        la, lb = -np.log(len(a)), -np.log(len(b))
        f, g = np.zeros(len(a)), np.zeros(len(b))
        for _ in range(iters):
            f = -eps * logsumexp(lb + (g[None, :] - cost) / eps, axis=1)
            g = -eps * logsumexp(la + (f[:, None] - cost) / eps, axis=0)
        return f.mean() + g.mean()

    return ot_eps(x, y) - 0.5 * ot_eps(x, x) - 0.5 * ot_eps(y, y)


def test_sinkhorn_unequal_sizes_are_half_w2_squared():
    rng = np.random.default_rng(1)
    x, y = rng.random(40), rng.random(13)
    got = losses.sinkhorn_distance(torch.tensor(x), torch.tensor(y),
                                   blur=1e-6)
    np.testing.assert_allclose(float(got), exact_half_w2(x, y), rtol=1e-10)
    # the oracle itself: equal sizes reduce to sorted matching
    np.testing.assert_allclose(exact_half_w2(x[:13], y),
                               sorted_half_w2(x[:13], y), rtol=1e-12)


def test_large_blur_is_the_sinkhorn_divergence():
    rng = np.random.default_rng(2)
    x, y = rng.random(30), rng.random(20) + .2
    got = losses.sinkhorn_distance(torch.tensor(x), torch.tensor(y),
                                   blur=0.1)
    ref = log_sinkhorn_divergence(x, y, blur=0.1)
    np.testing.assert_allclose(float(got), ref, rtol=1e-4)
    # entropic blurring makes it smaller than the unblurred limit
    assert float(got) < float(losses.sinkhorn_distance(
        torch.tensor(x), torch.tensor(y), blur=1e-6))


@pytest.mark.parametrize("blur", [1e-6, 0.1])
def test_zero_for_identical_positive_for_shifted_symmetric(blur):
    x = torch.linspace(0, 1, 25, dtype=torch.float64)
    assert abs(float(losses.sinkhorn_distance(x, x, blur=blur))) < 1e-6
    a = float(losses.sinkhorn_distance(x, x + 0.3, blur=blur))
    b = float(losses.sinkhorn_distance(x + 0.3, x, blur=blur))
    assert a > 1e-3
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_no_nan_at_tiny_blur_with_ties_and_float32():
    x = torch.tensor([0.5] * 16 + [0.51] * 16, requires_grad=True)
    d = losses.sinkhorn_distance(x, x[:8] * 0.9, blur=1e-8)
    d.backward()
    assert torch.isfinite(d) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("blur", [1e-6, 0.2])
def test_gradcheck_float64(blur):
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.random(12), requires_grad=True)
    y = torch.tensor(rng.random(7) + 0.1, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: losses.sinkhorn_distance(a, b, blur=blur), (x, y),
        eps=1e-6, atol=1e-5)


def test_wasserstein1_and_dispatch():
    x, y = torch.zeros(4), torch.full((6,), 2.0)
    assert float(losses.wasserstein1_distance(x, y)) == pytest.approx(2.0)
    assert float(losses.distribution_distance(
        x, y, distance="wasserstein1")) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="sinkhorn, wasserstein1"):
        losses.distribution_distance(x, y, distance="sinkhorm")


def test_geomloss_backend_gives_the_same_value():
    pytest.importorskip("geomloss")
    from fairnb.losses import distribution_distance
    g = torch.Generator().manual_seed(3)
    x = 0.3 + 0.05 * torch.randn(32, generator=g, dtype=torch.float64)
    y = 0.32 + 0.06 * torch.randn(12, generator=g, dtype=torch.float64)
    for blur in (0.05, 0.1):  # where geomloss' annealing has converged
        pot = distribution_distance(x, y, blur=blur)
        geo = distribution_distance(x, y, blur=blur, backend="geomloss")
        # two independent solvers: 0.01 % apart at blur 0.05, 0.25 % at 0.1
        np.testing.assert_allclose(float(geo), float(pot), rtol=5e-3)
