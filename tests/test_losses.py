import numpy as np
import ot
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


def test_sinkhorn_unequal_sizes_match_pot_quantiles():
    rng = np.random.default_rng(1)
    x, y = torch.tensor(rng.random(40)), torch.tensor(rng.random(13))
    got = losses.sinkhorn_distance(x, y, blur=1e-6)
    ref = 0.5 * ot.wasserstein_1d(x.numpy(), y.numpy(), p=2)
    np.testing.assert_allclose(float(got), ref, rtol=1e-10)


def test_large_blur_is_the_debiased_divergence():
    rng = np.random.default_rng(2)
    x, y = torch.tensor(rng.random(30)), torch.tensor(rng.random(20) + .2)
    got = losses.sinkhorn_distance(x, y, blur=0.1)
    ref = 0.5 * ot.solve_sample(x[:, None], y[:, None], reg=2 * 0.1 ** 2,
                                debias=True, tol=1e-9, max_iter=10000).value
    np.testing.assert_allclose(float(got), float(ref), rtol=1e-4)
    # entropic blurring makes it smaller than the unblurred limit
    assert float(got) < float(losses.sinkhorn_distance(x, y, blur=1e-6))


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
