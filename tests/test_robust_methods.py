"""DBPM, GroupDRO, adversarial training and group resampling."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fairnb.attributes import ATTRIBUTES
from fairnb.losses import clip_loss, clip_loss_per_sample
from fairnb.methods import Forward, make_method

RACE = ATTRIBUTES.index("race")


def features(n=12, d=8, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    img = torch.nn.functional.normalize(
        torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    txt = torch.nn.functional.normalize(
        torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    if grad:
        img.requires_grad_(True)
        txt.requires_grad_(True)
    return Forward(img, txt, torch.tensor(10.0, dtype=torch.float64))


def batch(race_codes, index=None):
    attrs = torch.zeros(len(race_codes), len(ATTRIBUTES), dtype=torch.long)
    attrs[:, RACE] = torch.tensor(race_codes)
    index = torch.arange(len(race_codes)) if index is None else index
    return SimpleNamespace(attributes=attrs, index=index)


def numpy_pair_losses(fwd):
    """Oracle: each pair's symmetric InfoNCE loss by log-sum-exp."""
    logits = 10.0 * fwd.image_features.detach().numpy() @ \
        fwd.text_features.detach().numpy().T

    def ce(rows):
        top = rows.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
        return lse - np.diag(rows)
    return 0.5 * (ce(logits) + ce(logits.T))


def test_per_pair_losses_average_to_the_clip_loss():
    fwd = features()
    per = clip_loss_per_sample(fwd.image_features, fwd.text_features, 10.0)
    np.testing.assert_allclose(per.numpy(), numpy_pair_losses(fwd),
                               rtol=1e-10)
    torch.testing.assert_close(per.mean(), clip_loss(
        fwd.image_features, fwd.text_features, 10.0))


# -- GroupDRO --------------------------------------------------------------
CODES = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]


def dro(eta=0.1, codes=CODES):
    method = make_method("groupdro", attribute="race", eta=eta)
    train = SimpleNamespace(groups=lambda a: np.array(codes))
    method.setup(SimpleNamespace(train=train))
    return method


def test_groupdro_weights_follow_exponentiated_group_losses():
    method, fwd = dro(eta=0.5), features()
    loss, logs = method.loss(fwd, batch(CODES))
    per, codes = numpy_pair_losses(fwd), np.array(CODES)
    means = np.array([per[codes == g].mean() for g in (0, 1, 2)])
    q = np.exp(0.5 * means) / np.exp(0.5 * means).sum()  # from uniform
    np.testing.assert_allclose(list(method.weights().values()), q,
                               rtol=1e-6)
    assert float(loss) == pytest.approx(float(q @ means), rel=1e-6)
    assert logs["q_black"] == pytest.approx(q[1], rel=1e-6)


def test_groupdro_moves_weight_to_the_group_with_the_higher_loss():
    method = dro(eta=0.2)
    fwd = features(n=12)
    codes = np.array(CODES)
    img = fwd.image_features  # matched texts close to their images ...
    txt = torch.nn.functional.normalize(img + 0.1 * fwd.text_features, dim=1)
    black = np.flatnonzero(codes == 1)
    txt[black] = txt[np.roll(black, 1)]  # ... but Black pairs mismatched
    hard = Forward(img, txt, fwd.logit_scale)
    for _ in range(20):
        method.loss(hard, batch(CODES))
    q = method.weights()
    assert max(q, key=q.get) == "Black" and q["Black"] > 0.5
    state = method.state_dict()  # the weights survive a checkpoint
    other = dro()
    other.load_state_dict(state)
    assert other.weights() == q


def test_groupdro_makes_unknown_one_more_group():
    method = dro(codes=CODES[:-1] + [-1])
    assert list(method.weights()) == ["Asian", "Black", "White", "Unknown"]


# -- DBPM ------------------------------------------------------------------
def test_flag_pairs_by_hand():
    from fairnb.methods.dbpm import flag_pairs
    rng = np.random.default_rng(0)
    history = rng.normal(2, 0.1, (200, 3))
    history[:5] += 1.0  # abnormally high: faulty pairs
    history[5:8] -= 1.0  # abnormally low: noisy pairs
    history[8, 1:] = np.nan  # seen once
    flagged, mu, sigma = flag_pairs(history, beta_np=3, beta_fp=2)
    m = np.array([np.mean(r[~np.isnan(r)]) for r in history])
    assert mu == pytest.approx(m.mean()) and sigma == pytest.approx(m.std())
    expected = (m < m.mean() - 3 * m.std()) | (m > m.mean() + 2 * m.std())
    assert flagged.tolist() == expected.tolist()
    assert set(np.flatnonzero(flagged)) >= set(range(8))


class _Train:
    def __init__(self, codes):
        self.codes = codes

    def __len__(self):
        return len(self.codes)

    def groups(self, attribute):
        return self.codes


def dbpm(**options):
    method = make_method("dbpm", attribute="race", fair_weight=0.0,
                         **options)
    method.setup(SimpleNamespace(settings=SimpleNamespace(epochs=3), seed=0,
                                 train=_Train(np.array(CODES * 2))))
    return method


def test_dbpm_memory_keeps_each_pairs_raw_loss_of_the_epoch():
    method = dbpm()
    method.on_epoch_start(0, 3)
    first, second = features(n=12, seed=1), features(n=12, seed=2)
    method.loss(first, batch(CODES, torch.arange(12)))
    again = torch.tensor([0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17])
    method.loss(second, batch(CODES, again))  # pairs 0-5 seen twice
    method.on_epoch_end(0)
    a, b = numpy_pair_losses(first), numpy_pair_losses(second)
    expected = np.full(24, np.nan)
    expected[:12] = a
    expected[:6] = (a[:6] + b[:6]) / 2
    expected[12:18] = b[6:]
    np.testing.assert_allclose(method.memory[:, 0], expected, rtol=1e-10)
    assert not method.flagged.any()  # no history in the first epoch


def test_dbpm_per_pair_weights_flagged_pairs_by_the_capped_density():
    method = dbpm(beta_np=1.0, beta_fp=1.0)
    m = np.linspace(1, 2, 24)
    m[3] = 9.0  # pair 3's loss is abnormally high
    method.memory[:, :2] = m[:, None]  # two epochs of history
    method.on_epoch_start(2, 3)
    mu, sigma = m.mean(), m.std()
    assert method.flagged.tolist() == (np.abs(m - mu) > sigma).tolist()
    assert method.flagged[3]
    fwd = features(n=12, seed=5)
    loss, logs = method.loss(fwd, batch(CODES, torch.arange(12)))
    per = numpy_pair_losses(fwd)
    phi = np.exp(-0.5 * ((per - mu) / sigma) ** 2) / (
        sigma * np.sqrt(2 * np.pi))
    w = np.where(method.flagged[:12], np.minimum(phi, 1.0), 1.0)
    assert float(loss) == pytest.approx(float(np.mean(w * per)), rel=1e-6)
    assert logs["flagged_in_batch"] == method.flagged[:12].sum()
    method.on_epoch_end(2)
    rates = method.epoch_logs()
    black = np.array(CODES * 2)[:12] == 1
    assert rates["flagged_black"] == method.flagged[:12][black].sum()


def test_dbpm_batch_slot_stores_the_reweighted_batch_loss():
    method = dbpm(mining="batch_slot", beta_np=0.5, beta_fp=0.5)
    slot_losses = {}
    for epoch in range(2):
        method.on_epoch_start(epoch, 3)
        for k in range(3):
            fwd = features(n=12, seed=10 * k + (k == 2) * 100)
            loss, _ = method.loss(fwd, batch(CODES))
            slot_losses[(k, epoch)] = float(loss)
        method.on_epoch_end(epoch)
    h = np.array([[slot_losses[(k, e)] for e in range(2)]
                  for k in range(3)])
    np.testing.assert_allclose(method.memory[:3, :2], h)
    method.on_epoch_start(2, 3)
    m = h.mean(axis=1)
    expected = np.abs(m - m.mean()) > 0.5 * m.std()
    assert method.flagged.tolist() == expected.tolist() and expected.any()
    mu, sigma = m.mean(), m.std()
    for k in range(3):  # the batch's mean loss times the density, uncapped
        fwd = features(n=12, seed=10 * k + (k == 2) * 100)
        loss, _ = method.loss(fwd, batch(CODES))
        ell = numpy_pair_losses(fwd).mean()
        phi = np.exp(-0.5 * ((ell - mu) / sigma) ** 2) / (
            sigma * np.sqrt(2 * np.pi))
        assert float(loss) == pytest.approx(
            ell * phi if expected[k] else ell, rel=1e-6)


def test_dbpm_loss_group_term_compares_group_loss_distributions():
    from fairnb.losses import distribution_distance
    method = make_method("dbpm", attribute="race", fair_weight=2.0,
                         min_group=2)
    method.setup(SimpleNamespace(settings=SimpleNamespace(epochs=1),
                                 seed=0, train=_Train(np.array(CODES))))
    method.on_epoch_start(0, 1)
    fwd = features()
    loss, logs = method.loss(fwd, batch(CODES))
    per = torch.as_tensor(numpy_pair_losses(fwd))
    codes = torch.tensor(CODES)
    term = sum(distribution_distance(per, per[codes == g])
               for g in (0, 1, 2))
    assert logs["fair_term"] == pytest.approx(float(term), rel=1e-5)
    assert float(loss) == pytest.approx(float(per.mean() + 2.0 * term),
                                        rel=1e-5)


def test_dbpm_options_are_checked():
    with pytest.raises(ValueError, match="mining"):
        make_method("dbpm", mining="per_batch")
    with pytest.raises(ValueError, match="group_source='separate' needs"):
        make_method("dbpm", group_source="separate")
    with pytest.raises(ValueError, match="warmup >= 1"):
        make_method("dbpm", warmup=0)


# -- adversarial -----------------------------------------------------------
def adversary(**options):
    method = make_method("adversarial", attribute="race", **options)
    model = SimpleNamespace(visual=SimpleNamespace(output_dim=8))
    method.setup(SimpleNamespace(model=model, seed=0))
    return method


def test_gradient_reversal_flips_the_gradient_into_the_encoder():
    from fairnb.methods.adversarial import reverse_gradient
    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(3)
    (reverse_gradient(x, 0.7) @ w).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * w.expand(5, 3))
    method = adversary(reversal=1.0, adv_weight=1.0)
    fwd = features(grad=True)
    _, _ = method.loss(fwd, batch(CODES))
    head = method.head
    # by hand: the head's loss with no reversal, its gradient w.r.t. z
    z = fwd.image_features.detach().clone().float().requires_grad_(True)
    codes = torch.tensor(CODES)
    torch.nn.functional.cross_entropy(head(z), codes).backward()
    plain = z.grad
    fwd2 = features(grad=True)
    method.adv_weight = 1.0
    logits = method.adversary_logits(Forward(
        fwd2.image_features.float(), fwd2.text_features.float(),
        fwd2.logit_scale))
    torch.nn.functional.cross_entropy(logits, codes).backward()
    torch.testing.assert_close(fwd2.image_features.grad.float(), -plain)


def test_the_adversary_learns_a_learnable_attribute_and_skips_unknown():
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 3, (300,), generator=g)
    z = torch.randn(300, 8, generator=g) * 0.3
    z[:, 0] += codes.float()  # the group is readable from dimension 0
    z = torch.nn.functional.normalize(z, dim=1)
    method = adversary(reversal=0.0, hidden=16)
    opt = torch.optim.Adam(method.head.parameters(), lr=0.05)
    fwd = Forward(z, z, torch.tensor(1.0))
    for _ in range(150):
        opt.zero_grad()
        logits = method.adversary_logits(fwd)
        torch.nn.functional.cross_entropy(logits, codes).backward()
        opt.step()
    acc = float((method.adversary_logits(fwd).argmax(1) == codes)
                .float().mean())
    assert acc > 0.9
    # Unknown (-1) is left out of the adversary's loss
    mixed = codes.clone()
    mixed[:50] = -1
    b = batch(mixed.tolist())
    _, logs = method.loss(fwd, b)
    known = mixed >= 0
    expected = torch.nn.functional.cross_entropy(
        method.adversary_logits(fwd)[known], mixed[known])
    assert logs["adversary_loss"] == pytest.approx(float(expected.detach()),
                                                   rel=1e-5)


# -- group resampling --------------------------------------------------------
def test_balanced_batches_give_every_group_equal_places():
    from fairnb.data.sampler import BalancedBatchSampler
    rng = np.random.default_rng(0)
    codes = rng.choice([0, 1, 2, -1], size=1000, p=[.8, .12, .05, .03])
    s = BalancedBatchSampler(codes, batch_size=64, seed=3)
    batches = list(s)
    assert len(batches) == 16
    for b in batches:  # full, no repeats, equal places per group (+-1)
        counts = np.bincount(codes[b][codes[b] >= 0], minlength=3)
        assert len(b) == 64 and len(set(b)) == len(b)
        assert counts.max() - counts.min() <= 1
    # Unknown keeps its share of Training over the epoch (within one)
    unknown = sum(int((codes[b] < 0).sum()) for b in batches)
    assert abs(unknown - 16 * 64 * (codes < 0).mean()) <= 1
    # a group smaller than its share gives its places to the others
    small = np.array([0] * 100 + [1] * 7 + [2] * 1)
    for b in BalancedBatchSampler(small, batch_size=18, seed=0):
        assert len(b) == 18 and len(set(b)) == 18
        assert np.bincount(small[b]).tolist() == [10, 7, 1]
    # the small group is over-sampled, the large one under-sampled
    drawn = np.bincount(codes[np.concatenate(batches)][
        codes[np.concatenate(batches)] >= 0], minlength=3)
    assert drawn[2] > (codes == 2).sum() and drawn[0] < (codes == 0).sum()
    again = BalancedBatchSampler(codes, batch_size=64, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


# -- DBPM through the engine, on pairs whose notes were swapped --------------
class ToyTowers(torch.nn.Module):
    """Two linear towers: images are noisy 4x4 patterns of their label,
    texts one token naming a label; CLIP-shaped outputs."""

    def __init__(self):
        super().__init__()
        self.image = torch.nn.Linear(48, 16)
        self.text = torch.nn.Embedding(4, 16)
        self.logit_scale = torch.nn.Parameter(torch.tensor(np.log(10.0)))
        self.visual = SimpleNamespace(output_dim=16)

    def forward(self, images, tokens):
        img = torch.nn.functional.normalize(self.image(images.flatten(1)),
                                            dim=1)
        txt = torch.nn.functional.normalize(self.text(tokens).mean(1), dim=1)
        return img, txt, self.logit_scale.exp()


def toy_split(n, *, swapped=(), seed=0, split="train"):
    from fairnb.data.torch import SplitData
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    pattern = np.random.default_rng(99).uniform(0, 1, (2, 16))
    images = np.clip(pattern[labels] + rng.normal(0, 0.15, (n, 16)), 0, 1)
    tokens = labels.copy()
    tokens[list(swapped)] = 1 - tokens[list(swapped)]  # the wrong note
    attrs = np.zeros((n, len(ATTRIBUTES)), np.int64)
    attrs[:, RACE] = rng.choice(3, n, p=[0.2, 0.3, 0.5])
    return SplitData(
        ids=[f"s{i}" for i in range(n)], texts=[""] * n,
        images=torch.as_tensor((images * 255).astype(np.uint8)).view(
            n, 1, 4, 4),
        tokens=torch.as_tensor(tokens)[:, None],
        labels=torch.as_tensor(labels), attributes=torch.as_tensor(attrs),
        split=split)


def toy_dbpm(**options):
    from fairnb.methods.dbpm import DBPM
    from fairnb.predictions import Predictions

    class ToyDBPM(DBPM):  # Validation scored by the matched similarity
        def score(self, data, *, device="cpu"):
            with torch.no_grad():
                fwd = self.forward(data.batch(np.arange(len(data))))
            s = (fwd.image_features * fwd.text_features).sum(1).numpy()
            return Predictions(np.asarray(data.ids), data.labels.numpy(),
                               1 / (1 + np.exp(-s)), s, {
                                   "race": data.attributes[:, RACE].numpy()})
    return ToyDBPM(attribute="race", fair_weight=0.0, **options)


def toy_bundle():
    from fairnb.models import ModelBundle
    torch.manual_seed(0)
    return ModelBundle(ToyTowers(), None, "toy", "", 4, (0.5,) * 3,
                       (0.5,) * 3)


def test_dbpm_flags_the_pairs_whose_notes_were_swapped():
    import fairnb as fnb
    swapped = np.arange(0, 400, 10)  # 10 % of the pairs get a wrong note
    train, val = toy_split(400, swapped=swapped), toy_split(60, seed=1,
                                                            split="val")
    method = toy_dbpm(beta_np=1.5, beta_fp=1.5)
    history = fnb.train(toy_bundle(), method, train, val,
                        settings=fnb.TrainSettings(
                            epochs=4, batch_size=40, lr=0.05, device="cpu",
                            sampler="plain"))
    clean = np.setdiff1d(np.arange(400), swapped)
    flags = method.flags
    assert not flags[:, 0].any()  # mining starts after the first epoch
    # measured: 60 %, 92 %, 100 % of the swapped pairs in epochs 2-4,
    # 3.6 %, 1.1 %, 0.3 % of the clean ones
    assert flags[swapped, 1:].mean() > 10 * flags[clean, 1:].mean()
    assert flags[swapped, 2:].mean() > 0.8 and flags[clean, 2:].mean() < 0.05
    # the engine logs the counts per epoch and group
    rows = history.epochs_frame()
    assert rows["flagged"].tolist()[0] == 0
    per_group = rows[["flagged_asian", "flagged_black",
                      "flagged_white"]].sum(axis=1)
    assert per_group.tolist() == rows["flagged"].tolist()
    table = method.flag_table()
    assert table.groupby("epoch")["flagged"].sum().tolist()[1:] == \
        method.flags[:, 1:].sum(axis=0).tolist()


def test_dbpm_memory_survives_checkpoint_and_resume(tmp_path):
    import fairnb as fnb
    from fairnb.callbacks import Callback
    from fairnb.config import FairCLIPConfig

    swapped = np.arange(0, 200, 10)
    train, val = toy_split(200, swapped=swapped), toy_split(40, seed=1,
                                                            split="val")
    settings = fnb.TrainSettings(epochs=3, batch_size=40, lr=0.05,
                                 device="cpu", sampler="plain")

    def go(root, *, stop=False):
        run = fnb.start_run(FairCLIPConfig.create(preset="smoke",
                                                  method="dbpm"),
                            root=root, resume=True)
        method = toy_dbpm(beta_np=2.0, beta_fp=2.0)

        class Stop(Callback):
            def on_step(self, history):
                if stop and history.steps[-1]["epoch"] == 3:
                    raise KeyboardInterrupt

        try:
            fnb.train(toy_bundle(), method, train, val, settings=settings,
                      run=run, resume=True, callbacks=[Stop()])
        except KeyboardInterrupt:
            pass
        return method

    whole = go(tmp_path / "a")
    go(tmp_path / "b", stop=True)  # stopped in the third epoch
    resumed = go(tmp_path / "b")
    np.testing.assert_array_equal(resumed.memory, whole.memory)
    np.testing.assert_array_equal(resumed.flags, whole.flags)
    assert resumed.flags[:, 1:].any()
