"""DualFairVL (a reconstruction from the abstract) and the acquisition
conditions: prompted forwards of a frozen open_clip model, the frozen
backbone, the loss terms, the parameter count, resume, and shifted
splits that differ from the stored ones as documented."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fairnb as fnb
from fairnb.data.shift import PROFILES, AcquisitionProfile, apply_condition
from fairnb.methods import prompts as P
from fairnb.methods.base import Context
from fairnb.methods.dualfairvl import orthogonality


@pytest.fixture(scope="module")
def smoke(smoke_splits):
    return smoke_splits


@pytest.fixture(scope="module", params=["fairnb-tiny", "fairnb-tiny-vit"])
def tower(request):
    bundle = fnb.create_model(request.param, seed=0)
    bundle.model.eval()
    return bundle


def method_on(bundle, data, **options):
    method = fnb.make_method("dualfairvl", attribute="race", **options)
    method.setup(Context(bundle=bundle, train=data,
                         device=torch.device("cpu")))
    return method


# -- prompted forwards ---------------------------------------------------
def test_prompt_free_passes_equal_the_models_own(tower):
    model = tower.model
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        first = P.visual_tokens(model.visual, x)
        np.testing.assert_allclose(first.pooled, model.encode_image(x),
                                   atol=1e-5)
        tokens = P.placeholder_tokens(tower.tokenizer, ["glaucoma", "male"],
                                      4)
        # the placeholders' own embeddings as "context": the plain text
        ctx = model.token_embedding.weight[tokens[0, 1]].repeat(4, 1)
        np.testing.assert_allclose(P.encode_with_context(model, tokens, ctx),
                                   model.encode_text(tokens), atol=1e-5)


def test_prompts_change_the_image_features_and_receive_gradients(tower):
    visual = tower.model.visual
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        first = P.visual_tokens(visual, x)
    depth = P.max_prompt_depth(visual)
    prompts = torch.randn(2, depth, 3, P.token_width(visual),
                          requires_grad=True)
    visual.requires_grad_(False)  # as the engine freezes the backbone
    try:
        out = P.encode_with_prompts(visual, first, prompts)
        assert (out - first.pooled).abs().max() > 1e-3
        out.sum().backward()
    finally:
        visual.requires_grad_(True)
    assert prompts.grad is not None and prompts.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="takes 1 to"):
        P.encode_with_prompts(visual, first, torch.zeros(
            2, depth + 1, 1, P.token_width(visual)))


def test_deep_prompts_enter_the_first_blocks_and_then_flow_on():
    bundle = fnb.create_model("fairnb-tiny-vit", seed=0)
    visual = bundle.model.visual.eval()
    x = torch.randn(2, 3, 64, 64)
    prompts = torch.randn(2, 2, 5, 128)
    with torch.no_grad():
        first = P.visual_tokens(visual, x)
        seen = []
        hooks = [b.register_forward_hook(
            lambda m, i, o: seen.append((i[0].clone(), o.clone())))
            for b in visual.transformer.resblocks]
        P.encode_with_prompts(visual, first, prompts)
        for h in hooks:
            h.remove()
    n = first.tokens.shape[1] + 1  # patches + class token
    assert [i.shape[1] for i, _ in seen] == [n + 5] * 4
    # blocks 1 and 2 get their own set; block 3 and 4 the outputs before
    assert torch.equal(seen[0][0][:, n:], prompts[:, 0])
    assert torch.equal(seen[1][0][:, n:], prompts[:, 1])
    assert torch.equal(seen[2][0], seen[1][1])
    assert torch.equal(seen[3][0], seen[2][1])


def test_other_towers_are_refused_by_name():
    with pytest.raises(ValueError, match="VisionTransformer"):
        P.visual_kind(torch.nn.Linear(2, 2))


# -- the method ------------------------------------------------------------
def test_the_parameter_count_matches_the_architecture(smoke):
    bundle, data = smoke
    m = method_on(bundle, data["train"], n_ctx=5, n_prompts=3, hidden=32,
                  rank=8, heads=4)
    E, W_text, W_tok, depth = 128, 128, 512, 1  # fairnb-tiny, ResNet: 1
    expected = {
        "text context": 2 * 5 * W_text,
        "anchor projections": 2 * (E * E + E),
        "cross-attention": (W_tok * E + E) + 2 * (4 * E * E + 4 * E),
        "hypernetwork": (3 * E * 32 + 32) + (32 * 8 + 8)
        + (8 + 1) * depth * 3 * W_tok,
        "sensitive head": 2 * E * E + E}
    counts = m.parameter_counts()
    assert {k: counts[k] for k in expected} == expected
    assert counts["trainable"] == sum(expected.values()) == sum(
        p.numel() for g in m.trainable() for _, p in g.params)
    assert counts["frozen backbone"] == bundle.n_parameters()


def test_training_keeps_the_backbone_frozen_and_logs_each_term(smoke):
    _, data = smoke
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    method = fnb.make_method("dualfairvl", attribute="race")
    grads = []

    class Watch(fnb.callbacks.Callback):
        def on_step(self, history):
            grads.append([p.grad is None for p in bundle.model.parameters()])

    history = fnb.train(bundle, method, data["train"], data["val"],
                        settings=fnb.TrainSettings(
                            attribute="race", epochs=2, batch_size=32,
                            device="cpu", sampler="plain"),
                        callbacks=[Watch()])
    after = bundle.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(all(step) for step in grads)  # no backbone gradient, ever
    steps = history.steps_frame()
    for term in ("cls_loss", "sen_loss", "orth_loss", "proto_loss",
                 "proto_pull", "proto_push", "proto_separate", "sen_acc"):
        assert steps[term].notna().all(), term
    # the trainable parts did move
    trained = dict(method.net.named_parameters())
    fresh = method_on(fnb.create_model("fairnb-tiny", seed=0),
                      data["train"]).net
    assert any(not torch.equal(p, trained[n]) for n, p in
               fresh.named_parameters())


def test_the_orthogonality_term_decreases(smoke):
    _, data = smoke
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    method = fnb.make_method("dualfairvl", attribute="race",
                             orth_weight=1.0)
    method.setup(Context(bundle=bundle, train=data["train"],
                         device=torch.device("cpu")))
    with torch.no_grad():
        start = float(orthogonality(*method.anchors()))
    history = fnb.train(bundle, method, data["train"], data["val"],
                        settings=fnb.TrainSettings(
                            attribute="race", epochs=2, batch_size=32,
                            device="cpu", sampler="plain"))
    end = history.epochs[-1]["anchor_orthogonality"]
    assert start > 0.05 and end < 0.2 * start
    kept = history.epochs[history.best_epoch - 1]["anchor_orthogonality"]
    cos = method.anchor_cosines()  # the selected epoch's, as a table
    assert float((cos.to_numpy() ** 2).mean()) == pytest.approx(
        kept, rel=1e-4, abs=1e-6)
    assert list(cos.index) == ["non-glaucoma", "glaucoma"]
    assert list(cos.columns) == ["Asian", "Black", "White"]


def test_orthogonality_against_a_hand_computation():
    a = torch.tensor([[1.0, 0, 0], [1, 1, 0]])
    b = torch.tensor([[0.0, 1, 0], [0, 0, 2]])
    # cos: (0, 0; 1/sqrt2, 0) -> mean of squares 0.5 / 4
    assert float(orthogonality(a, b)) == pytest.approx(0.125)


def test_prototypes_follow_the_batch_means_and_the_push_term(smoke):
    bundle, data = smoke
    m = method_on(bundle, data["train"], proto_momentum=0.5)
    out = {"v_y": torch.tensor([[1.0, 0], [0, 1], [1, 1]]),
           "v_s": torch.tensor([[1.0, 0], [0, 1], [0, 1]])}
    m.net.proto_target = torch.zeros(2, 2)
    m.net.proto_sensitive = torch.zeros(3, 2)
    m.net.proto_seen_target = torch.zeros(2, dtype=torch.bool)
    m.net.proto_seen_sensitive = torch.zeros(3, dtype=torch.bool)
    labels, codes = torch.tensor([0, 1, 1]), torch.tensor([0, 2, -1])
    m.update_prototypes(out, labels, codes)
    r = 2 ** -0.5
    np.testing.assert_allclose(m.net.proto_target,
                               [[1, 0], [r / 2, (1 + r) / 2]], atol=1e-6)
    assert m.net.proto_seen_sensitive.tolist() == [True, False, True]
    # group prototypes are of v_y too (Unknown updates none)
    np.testing.assert_allclose(m.net.proto_sensitive,
                               [[1, 0], [0, 0], [0, 1]], atol=1e-6)
    # a second batch moves a seen prototype by (1 - momentum) of the way
    m.update_prototypes({"v_y": torch.tensor([[0.0, 1]]),
                         "v_s": torch.tensor([[0.0, 1]])},
                        torch.tensor([0]), torch.tensor([1]))
    np.testing.assert_allclose(m.net.proto_target[0], [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(m.net.proto_sensitive[1], [0, 1], atol=1e-6)
    # push: a sample's offset from its class prototype along a group
    # direction costs cos^2; with groups (1,0) and (0,1) and offset (1,-1)
    # from (0, 1) -> the direction is (1,-1)/sqrt2: cos^2 = 1 for both
    m.net.proto_target = torch.tensor([[0.0, 1], [0, 1]])
    terms = m.prototype_loss({"v_y": torch.tensor([[1.0, 0]]),
                              "v_s": torch.tensor([[1.0, 0]]),
                              "a": torch.tensor([[0.0, 1], [0, 1]])},
                             torch.tensor([0]), torch.tensor([0]))
    assert float(terms["push"]) == pytest.approx(1.0)
    assert float(terms["pull"]) == pytest.approx(2.0)  # 1 - 0, twice


def test_half_precision_autocast_trains_and_scores(smoke):
    """On a GPU the forward runs under autocast: half-precision module
    outputs must not break the fp32 heads (bf16 on the CPU stands in)."""
    bundle, data = smoke
    m = method_on(bundle, data["train"])
    m.context.autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    out = m.training_step(data["train"].batch(np.arange(16)), 1)
    assert torch.isfinite(out.loss) and out.loss.dtype == torch.float32
    out.loss.backward()
    assert m.net.ctx_target.grad is not None
    assert np.isfinite(m.score(data["val"]).y_score).all()


def test_feature_sets_feed_the_attribute_probe(smoke):
    bundle, data = smoke
    m = method_on(bundle, data["train"])
    feats = m.feature_sets(data["val"])
    assert set(feats) == {"v0", "v_y", "v_s"}
    with torch.no_grad():
        ref = F.normalize(bundle.model.encode_image(m.context.images(
            data["val"].batch(np.arange(len(data["val"]))))), dim=-1)
    np.testing.assert_allclose(feats["v0"].X, ref.numpy(), atol=1e-5)
    assert feats["v_y"].X.shape == feats["v0"].X.shape
    np.testing.assert_array_equal(feats["v_y"].attributes["race"],
                                  data["val"].groups("race"))


def test_options_are_checked(smoke):
    bundle, data = smoke
    with pytest.raises(ValueError, match="at most 1 block"):
        method_on(bundle, data["train"], prompt_depth=2)
    with pytest.raises(ValueError, match="heads=3 must divide"):
        method_on(bundle, data["train"], heads=3)
    with pytest.raises(ValueError, match="sen_weight must be >= 0"):
        fnb.make_method("dualfairvl", sen_weight=-1)


def test_dualfairvl_resumes_mid_training_to_the_same_scores(smoke, tmp_path):
    from fairnb.callbacks import Callback
    from fairnb.config import DualFairVLConfig
    _, splits = smoke
    settings = fnb.TrainSettings(attribute="race", epochs=2, batch_size=64,
                                 device="cpu", sampler="plain")

    def go(root, *, stop=False):
        run = fnb.start_run(DualFairVLConfig.create(preset="smoke"),
                            root=root, resume=True)
        method = fnb.make_method("dualfairvl", attribute="race")

        class Stop(Callback):
            def on_step(self, history):
                if stop and history.steps[-1]["epoch"] == 2:
                    raise KeyboardInterrupt

        try:
            history = fnb.train(fnb.create_model("fairnb-tiny", seed=0),
                                method, splits["train"], splits["val"],
                                settings=settings, run=run, resume=True,
                                callbacks=[Stop()])
        except KeyboardInterrupt:
            return method, None
        return method, history

    whole, full = go(tmp_path / "a")
    go(tmp_path / "b", stop=True)
    resumed, again = go(tmp_path / "b")
    # epoch 2 ran again from epoch 1's checkpoint: the same steps
    last = [s["loss"] for s in full.steps if s["epoch"] == 2]
    assert [s["loss"] for s in again.steps if s["epoch"] == 2] == \
        pytest.approx(last, abs=1e-6)
    assert [e["val_auc"] for e in again.epochs] == pytest.approx(
        [e["val_auc"] for e in full.epochs], abs=1e-9)
    assert torch.equal(resumed.net.proto_target, whole.net.proto_target)
    np.testing.assert_allclose(resumed.score(splits["test"]).y_score,
                               whole.score(splits["test"]).y_score,
                               rtol=0, atol=1e-6)


def test_the_frozen_backbone_is_trained_once_then_read_from_cache(
        smoke, tmp_path):
    _, data = smoke
    a = fnb.create_model("fairnb-tiny", seed=0)
    first = fnb.frozen_backbone(a, data["train"], data["val"], epochs=1,
                                cache_dir=tmp_path, device="cpu")
    b = fnb.create_model("fairnb-tiny", seed=0)
    again = fnb.frozen_backbone(b, data["train"], data["val"], epochs=1,
                                cache_dir=tmp_path, device="cpu")
    assert (first.source, again.source) == ("trained now", "cache")
    assert first.path == again.path and again.val_auc == first.val_auc
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    fresh = fnb.create_model("fairnb-tiny", seed=0).model.state_dict()
    assert any(not torch.equal(fresh[k], sa[k]) for k in sa)
    assert fnb.frozen_backbone(b, data["train"], data["val"], epochs=0
                               ).source == "as created"
    # other initial weights are another backbone, not the cached one
    c = fnb.create_model("fairnb-tiny", seed=1)
    other = fnb.frozen_backbone(c, data["train"], data["val"], epochs=1,
                                cache_dir=tmp_path, device="cpu")
    assert other.source == "trained now" and other.path != first.path


# -- acquisition conditions ------------------------------------------------
@pytest.fixture(scope="module")
def stored(smoke):
    _, data = smoke
    return data["test"].images[:40], data["test"].ids[:40]


def test_source_is_the_stored_data(stored):
    images, ids = stored
    assert apply_condition(images, "source", ids=ids) is images


def test_low_contrast_scales_the_spread_about_each_mean(stored):
    images, ids = stored
    x = images.double()
    y = apply_condition(images, "low_contrast", ids=ids).double()
    k = PROFILES["low_contrast"].contrast
    ratio = y.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    np.testing.assert_allclose(ratio, k, atol=0.01)
    np.testing.assert_allclose(y.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)),
                               atol=1.0)


def test_blur_matches_scipy_and_removes_fine_detail(stored):
    from scipy.ndimage import gaussian_filter
    images, ids = stored
    y = apply_condition(images, "blur", ids=ids).double().numpy()
    sigma = PROFILES["blur"].blur * images.shape[-1]
    radius = int(np.ceil(3 * sigma))
    oracle = np.stack([gaussian_filter(im[0].astype(float), sigma,
                                       mode="mirror", truncate=radius / sigma)
                       for im in images.numpy()])
    assert np.abs(y[:, 0] - oracle).max() <= 1.0  # rounding only
    lap = lambda a: np.var(np.diff(a, 2, axis=-1))  # noqa: E731
    assert lap(y[:, 0]) < 0.5 * lap(images.double().numpy()[:, 0])


def test_noise_is_documented_deterministic_and_per_sample(stored):
    images, ids = stored
    y = apply_condition(images, "noise", ids=ids).double()
    d = (y - images.double()) / 255
    inside = (images > 40) & (images < 215)  # away from clipping
    assert d[inside].std() == pytest.approx(PROFILES["noise"].noise,
                                            rel=0.05)
    assert abs(float(d[inside].mean())) < 0.003
    assert torch.equal(y, apply_condition(images, "noise", ids=ids).double())
    order = list(range(len(ids)))[::-1]  # the same sample, the same noise
    flipped = apply_condition(images[order], "noise",
                              ids=[ids[i] for i in order])
    assert torch.equal(flipped.double(), y[order])


def test_device_b_composes_the_documented_steps(stored):
    from scipy.ndimage import gaussian_filter
    images, ids = stored
    p = PROFILES["device_b"]
    no_noise = AcquisitionProfile(contrast=p.contrast, gamma=p.gamma,
                                  blur=p.blur)
    y = apply_condition(images, no_noise, ids=ids).double().numpy()[:, 0]
    sigma = p.blur * images.shape[-1]
    radius = int(np.ceil(3 * sigma))
    for im, out in zip(images.numpy()[:, 0], y):
        x = gaussian_filter(im / 255.0, sigma, mode="mirror",
                            truncate=radius / sigma)
        x = x.mean() + p.contrast * (x - x.mean())
        x = np.clip(x, 0, 1) ** p.gamma
        assert np.abs(out - np.clip(x, 0, 1) * 255).max() <= 1.0
    # darker midtones: gamma > 1 lowers the mean
    assert y.mean() < images.double().mean()


def test_load_split_applies_the_condition(smoke):
    bundle, data = smoke
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    shifted = fnb.load_split(ds, "test", image_size=bundle.image_size,
                             tokenizer=bundle.tokenizer,
                             condition="low_contrast")
    assert shifted.condition == "low_contrast"
    assert "low_contrast" in repr(shifted)
    assert torch.equal(shifted.images, apply_condition(
        data["test"].images, "low_contrast", ids=data["test"].ids))
    assert torch.equal(shifted.labels, data["test"].labels)
    with pytest.raises(ValueError, match="device_b"):
        fnb.load_split(ds, "test", image_size=bundle.image_size,
                       tokenizer=bundle.tokenizer, condition="device_c")


def test_the_condition_table_reports_the_shift():
    from fairnb.predictions import Predictions
    y = np.array([0, 1, 0, 1, 0, 1])
    g = np.array([0, 0, 1, 1, 2, 2])
    good = np.array([.1, .9, .2, .8, .3, .7])
    bad = np.array([.1, .9, .8, .2, .3, .7])  # Black's pair flipped
    preds = {c: Predictions(np.arange(6).astype(str), y, s, s, {"race": g})
             for c, s in (("source", good), ("device_b", bad))}
    t = fnb.shifts.condition_table(preds, "race", reference="source")
    row = t.set_index("condition").loc["device_b"]
    assert (row["AUC Black"], row["AUC White"], row["gap"]) == (0, 1, 1)
    assert row["ΔAUC"] == pytest.approx(row["AUC"] - 1.0)
    fig = fnb.plots.condition_figure(t, "race")
    assert [tr.name for tr in fig.data] == ["Asian", "Black", "White",
                                            "overall"]


def test_other_figures_of_08(smoke):
    import pandas as pd
    steps = pd.DataFrame({"step": [1, 2, 3], "cls_loss": [1.0, .5, .2]})
    fig = fnb.plots.loss_terms_figure(steps, ["cls_loss", "orth_loss"])
    assert len(fig.data) == 2  # raw and running mean of the one term
    np.testing.assert_allclose(fig.data[1].y, [1.0, .75, 1.7 / 3])
    assert fnb.plots.loss_terms_figure(steps, ["nope"]) is None
    cos = pd.DataFrame([[0.1, -0.2]], index=["glaucoma"],
                       columns=["Female", "Male"])
    fig = fnb.plots.anchor_figure(cos)
    np.testing.assert_allclose(fig.data[0].z, [[0.1, -0.2]])


def test_the_data_card_documents_the_profiles_the_code_applies():
    from pathlib import Path
    card = (Path(__file__).resolve().parents[1] / "data_cards"
            / "synthetic_fairvlmed.md").read_text()
    rows = {}
    for line in card.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0] in PROFILES:
            rows[cells[0]] = tuple(float(c) for c in cells[1:5])
    assert set(rows) == set(PROFILES)
    for name, p in PROFILES.items():
        assert rows[name] == (p.contrast, p.gamma, p.blur, p.noise), name


def test_a_run_records_its_conditions_and_05_reads_them(smoke, tmp_path):
    from fairnb.features import split_features
    from fairnb.runs import Run
    from fairnb.sources import record_data, run_conditions
    bundle, data = smoke
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    assert run_conditions(None) == {s: "source" for s in
                                    ("train", "val", "test")}
    run = Run(path=tmp_path, notebook="03_fairclip")
    record_data(run, ds, conditions={"train": "blur", "val": "blur",
                                     "test": "device_b"})
    conditions = run_conditions(tmp_path)
    assert conditions == {"train": "blur", "val": "blur", "test": "device_b"}
    feats, (clip, splits), _ = split_features(
        "clip", dataset=ds, model="fairnb-tiny", seed=0, device="cpu",
        conditions=conditions)
    assert splits["test"].condition == "device_b"
    assert torch.equal(splits["test"].images, apply_condition(
        data["test"].images, "device_b", ids=data["test"].ids))
    with pytest.raises(ValueError, match="BLIP-2 path reads the stored"):
        split_features("blip2", dataset=ds, pretrained=str(tmp_path),
                       conditions=conditions)
