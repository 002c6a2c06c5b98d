"""MultiFair and its baselines: the surrogate AUC, the modality and group
coefficients, the gradient scaling, the FairVision reader and the
synthetic OCT stand-in, resume."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import fairnb as fnb
from fairnb.data.fairvision import read_fairvision
from fairnb.data.layout import DatasetError
from fairnb.data.synthetic_oct import (
    make_synthetic_oct,
    render_bscans,
    rnfl_thickness,
)
from fairnb.data.torch import load_split, preprocess_volume, slice_positions
from fairnb.methods.base import Context
from fairnb.methods.multifair import (
    head_weight_gradient,
    surrogate_auc,
)


# -- the surrogate AUC ---------------------------------------------------
def test_surrogate_auc_orders_like_the_auc():
    rng = np.random.default_rng(0)
    true, surrogate = [], []
    for shift in np.linspace(-2, 2, 120):
        y = rng.integers(0, 2, 60)
        if len(set(y)) < 2:
            continue
        p = 1 / (1 + np.exp(-(rng.normal(0, 1, 60) + shift * y)))
        true.append(roc_auc_score(y, p))
        surrogate.append(float(surrogate_auc(torch.tensor(p),
                                             torch.tensor(y))))
    assert spearmanr(true, surrogate).statistic > 0.95


def test_surrogate_auc_bounds_and_undefined_groups():
    y = torch.tensor([0, 0, 1, 1])
    perfect = surrogate_auc(torch.tensor([0., 0., 1., 1.]), y)
    reversed_ = surrogate_auc(torch.tensor([1., 1., 0., 0.]), y)
    assert float(perfect) == pytest.approx(1 - math.log(1 + math.exp(-1)))
    assert float(reversed_) == pytest.approx(1 - math.log(1 + math.e))
    assert surrogate_auc(torch.tensor([.2, .3]), torch.tensor([1, 1])) is None


def test_surrogate_auc_has_a_gradient():
    p = torch.tensor([.4, .6, .5, .3], requires_grad=True)
    surrogate_auc(p, torch.tensor([0, 1, 1, 0])).backward()
    # raising a positive's score or lowering a negative's raises it
    assert p.grad[1] > 0 and p.grad[2] > 0 and p.grad[0] < 0 and \
        p.grad[3] < 0


def test_head_weight_gradient_equals_autograd():
    torch.manual_seed(0)
    hidden = torch.randn(16, 8)
    y = torch.randint(0, 2, (16,))
    layer = torch.nn.Linear(8, 2)
    logits = layer(hidden)
    [grad] = torch.autograd.grad(
        torch.nn.functional.cross_entropy(logits, y), [layer.weight])
    torch.testing.assert_close(head_weight_gradient(logits, hidden, y), grad)


# -- the method on the smoke data ---------------------------------------
@pytest.fixture(scope="module")
def smoke(smoke_splits):
    return smoke_splits


def method_on(bundle, data, name="multifair", **options):
    method = fnb.make_method(name, attribute="race", **options)
    method.setup(Context(bundle=bundle, train=data,
                         device=torch.device("cpu")))
    bundle.model.eval()  # no dropout: steps are deterministic
    method.net.eval()
    return method


def test_coefficients_favour_the_modality_whose_auc_moved_less(smoke):
    bundle, splits = smoke
    method = method_on(bundle, splits["train"])
    y = np.array([0, 0, 1, 1])
    moving = torch.tensor([[2., 0], [2., 0], [0, 2.], [0, 2.]])  # AUC 1
    flat = torch.zeros(4, 2)  # AUC 0.5 every step
    logs = {}
    coef = method._modality_coefficients({"slo": moving, "note": flat}, y,
                                         logs)
    # slo moved 0.5 -> 1 (|delta| .5), note 0.5 -> 0.5: all to the note
    assert coef["note"] == pytest.approx(1) and coef["slo"] == \
        pytest.approx(0, abs=1e-6)
    assert logs["aux_auc_slo"] == 1 and logs["aux_auc_note"] == 0.5


def test_an_uninformative_note_gets_the_larger_coefficient(smoke):
    bundle, splits = smoke
    train = splits["train"]
    blank = fnb.create_model("fairnb-tiny", seed=0).tokenizer([""] *
                                                              len(train))
    import dataclasses
    dull = dataclasses.replace(train, tokens=blank)
    # without dropout every note embedding is the same: its aux AUC is 0.5
    # at every step, it never moves, and it gets the larger coefficient
    method = fnb.make_method("multifair", attribute="race", dropout=0.0)
    settings = fnb.TrainSettings(epochs=2, batch_size=32, lr=1e-3,
                                 device="cpu", sampler="plain")
    history = fnb.train(fnb.create_model("fairnb-tiny", seed=0), method,
                        dull, splits["val"], settings=settings)
    epochs = history.epochs_frame()
    assert (epochs["aux_auc_note"] == 0.5).all()
    assert (epochs["B_note"] > 0.9).all() and (epochs["B_slo"] < 0.1).all()


def test_gradient_scaling_touches_encoders_only_and_keeps_signs(smoke):
    bundle, splits = smoke
    model = fnb.create_model("fairnb-tiny", seed=0)
    method = method_on(model, splits["train"])
    batch = splits["train"].batch(np.arange(64))
    out = method.training_step(batch, 1)
    out.loss.backward()
    encoders = method.encoder_parameters()
    before = {id(p): p.grad.clone() for ps in encoders.values()
              for _, p in ps if p.grad is not None}
    others = {n: p.grad.clone() for n, p in method.net.named_parameters()
              if p.grad is not None}
    method.factors = {"slo": 0.25, "note": 1.7}
    method.before_step(1)
    for m, params in encoders.items():
        for _, p in params:
            if p.grad is not None:
                torch.testing.assert_close(
                    p.grad, before[id(p)] * method.factors[m])
    for n, p in method.net.named_parameters():  # projections, heads
        if n in others:
            torch.testing.assert_close(p.grad, others[n])


def test_a_negative_group_factor_is_clamped_to_zero(smoke):
    bundle, splits = smoke
    method = method_on(fnb.create_model("fairnb-tiny", seed=0),
                       splits["train"], kappa=50.0, modulation="group")
    white = np.flatnonzero(splits["train"].groups("race") == 2)
    batch = splits["train"].batch(white[:32])  # a batch of one group
    # the EMA says White is served far better than the others
    for m in method.used:
        method.group_ema[m] = [0.0, 0.0, 0.6]
    method._priority = lambda *a: True
    out = method.training_step(batch, 1)
    for m in method.used:  # R = 1 + 50 (0.2 - 0.6) / 0.07 < 0
        assert out.logs[f"R_{m}"] < 0
        assert out.logs[f"factor_{m}"] == 0.0
    out.loss.backward()
    grads = [p.grad.clone() for ps in method.encoder_parameters().values()
             for _, p in ps if p.grad is not None]
    method.before_step(1)
    after = [p.grad for ps in method.encoder_parameters().values()
             for _, p in ps if p.grad is not None]
    assert all(float((a * g).min()) >= 0 for a, g in zip(after, grads))
    assert all(float(a.abs().max()) == 0 for a in after)


def test_group_factors_rise_for_the_lagging_group(smoke):
    bundle, splits = smoke
    method = method_on(bundle, splits["train"], ema=0.0)
    y = torch.tensor([0, 1] * 6)
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    good = torch.tensor([[3., -3], [-3, 3]] * 6)
    bad = good.flip(1)
    logits = torch.where(torch.as_tensor(codes == 1)[:, None], bad, good)
    logs = {}
    out = method._group_factors({"slo": logits, "note": logits}, y, codes,
                                logs)
    r = method.epoch_logs()
    assert r["r_slo_black"] > 1 > r["r_slo_white"]
    assert r["surrogate_slo_black"] < r["surrogate_slo_white"]
    assert out["gap"] > 0


def test_differentiable_terms_carry_gradient(smoke):
    bundle, splits = smoke
    batch = splits["train"].batch(np.arange(64))
    grads = {}
    for direction in ("off", "differentiable"):
        method = method_on(fnb.create_model("fairnb-tiny", seed=0),
                           splits["train"], direction=direction,
                           fair_loss="differentiable", lambda_gm=100.0)
        method._priority = lambda *a: True
        out = method.training_step(batch, 1)
        out.loss.backward()
        grads[direction] = method.net.out.weight.grad.clone()
        assert out.logs["l_gm"] != 0 or direction == "off"
    assert not torch.allclose(grads["off"], grads["differentiable"])


def test_fair_loss_differentiable_moves_the_head_gradient(smoke):
    bundle, splits = smoke
    batch = splits["train"].batch(np.arange(64))
    grads = {}
    for fair_loss in ("constant", "differentiable"):
        method = method_on(fnb.create_model("fairnb-tiny", seed=0),
                           splits["train"], fair_loss=fair_loss, mu_f=50.0)
        method._priority = lambda *a: True
        out = method.training_step(batch, 1)
        out.loss.backward()
        grads[fair_loss] = method.net.out.weight.grad.clone()
    assert not torch.allclose(grads["constant"], grads["differentiable"])


def test_logged_factors_follow_the_rule_and_the_trigger_sklearn(smoke):
    bundle, splits = smoke
    method = method_on(fnb.create_model("fairnb-tiny", seed=0),
                       splits["train"], tau=0.02)
    train = splits["train"]
    for step, start in enumerate(range(0, 192, 64), 1):
        rows = np.arange(start, start + 64)
        batch = train.batch(rows)
        out = method.training_step(batch, step)
        logs = out.logs
        # the trigger: the fused scores' group AUC gap, by sklearn
        with torch.no_grad():
            _, _, logits = method.forward(batch)
        p = torch.softmax(logits, 1)[:, 1].numpy()
        y, race = batch.labels.numpy(), train.groups("race")[rows]
        aucs = [roc_auc_score(y[race == g], p[race == g]) for g in range(3)
                if (race == g).sum() >= 2 and len(set(y[race == g])) == 2]
        assert logs["priority"] == float(len(aucs) >= 2 and max(aucs)
                                         - min(aucs) > 0.02)
        for m in ("slo", "note"):
            want = logs[f"B_{m}"] * 1.2 * (logs[f"R_{m}"] if logs[
                "priority"] else 1.0)
            assert logs[f"factor_{m}"] == pytest.approx(max(0.0, want))
            assert method.factors[m] == logs[f"factor_{m}"]


def test_baselines_refuse_modulation():
    with pytest.raises(ValueError, match="without gradient modulation"):
        fnb.make_method("fusion", modulation="dual")
    assert fnb.make_method("slo_only").used == ("slo",)
    assert fnb.make_method("oct_only").used == ("oct",)
    assert fnb.make_method("fusion", modalities="slo+oct").used == (
        "slo", "oct")
    with pytest.raises(ValueError, match="use modalities='slo\\+note'"):
        fnb.make_method("note_only", modalities="slo+oct")
    with pytest.raises(ValueError, match="not divisible by heads=3"):
        method_on(fnb.create_model("fairnb-tiny", seed=0),
                  fnb.load_split(fnb.open_dataset("", preset="smoke",
                                                  summaries="none"), "val",
                                 image_size=64, tokenizer=fnb.create_model(
                                     "fairnb-tiny").tokenizer),
                  heads=3)


def test_configs_refuse_a_modality_a_method_lacks():
    from fairnb.config import CompareConfig, ConfigError, MultiFairConfig
    with pytest.raises(ConfigError, match="'note_only' needs modalities="
                                          "slo\\+note"):
        MultiFairConfig.create(modalities="slo+oct",
                               baselines="fusion,note_only")
    with pytest.raises(ConfigError, match="'oct_only' needs"):
        CompareConfig.create(methods="multifair,oct_only",
                             baseline="multifair")
    with pytest.raises(ConfigError, match="varies 'modalities'"):
        CompareConfig.create(methods="multifair,fusion",
                             baseline="fusion",
                             grid_options="modalities:slo+note|slo+oct")
    # a tau axis is MultiFair's: fusion gets one cell per seed, not two
    cells = CompareConfig.create(methods="multifair,fusion",
                                 baseline="fusion", seeds="0,1",
                                 grid_options="tau:0.05|0.1",
                                 preset="smoke").cells()
    per = pd.Series([c.parameters["method"] for c in cells]).value_counts()
    assert per["multifair"] == 4 and per["fusion"] == 2
    assert {c.notebook for c in cells} == {"07_multifair"}


def test_multifair_resumes_mid_training_to_the_same_weights(smoke, tmp_path):
    from fairnb.callbacks import Callback
    from fairnb.config import MultiFairConfig
    bundle, splits = smoke
    settings = fnb.TrainSettings(attribute="race", epochs=2, batch_size=64,
                                 lr=1e-3, device="cpu", sampler="plain")

    def go(root, *, stop=False):
        run = fnb.start_run(MultiFairConfig.create(preset="smoke"),
                            root=root, resume=True)
        method = fnb.make_method("multifair", attribute="race")

        class Stop(Callback):
            def on_step(self, history):
                if stop and history.steps[-1]["epoch"] == 2:
                    raise KeyboardInterrupt

        try:
            fnb.train(fnb.create_model("fairnb-tiny", seed=0), method,
                      splits["train"], splits["val"], settings=settings,
                      run=run, resume=True, callbacks=[Stop()])
        except KeyboardInterrupt:
            pass
        return method

    whole = go(tmp_path / "a")
    go(tmp_path / "b", stop=True)
    resumed = go(tmp_path / "b")
    assert resumed.group_ema == whole.group_ema
    assert resumed.prev_auc == whole.prev_auc
    a = whole.score(splits["test"]).y_score
    b = resumed.score(splits["test"]).y_score
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


# -- FairVision: reader, stand-in, volumes -------------------------------
def write_fairvision(root, n=4, **override):
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        (root / split).mkdir(parents=True)
        for i in range(n):
            arrays = {"slo_fundus": rng.integers(0, 255, (40, 30), np.uint8),
                      "oct_bscans": rng.integers(0, 255, (7, 20, 24),
                                                 np.uint8),
                      "glaucoma": np.array(i % 2), "race": np.array(i % 3),
                      "male": np.array(1), "hispanic": np.array(-1),
                      "age": np.array(61.5)}
            arrays.update(override)
            np.savez(root / split / f"data_{i:06d}.npz", **arrays)


def test_fairvision_reader_maps_the_fields(tmp_path):
    write_fairvision(tmp_path)
    ds = read_fairvision(tmp_path)
    meta = ds.metadata("train")
    assert meta["label"].tolist() == [0, 1, 0, 1]
    assert meta["race"].tolist() == [0, 1, 2, 0]
    assert (meta["gender"] == 1).all()  # male -> gender Male
    assert (meta["ethnicity"] == -1).all()  # hispanic -1 -> Unknown
    assert (meta["language"] == -1).all()  # absent -> Unknown
    assert math.isnan(meta["md"][0]) and meta["age"][0] == 61.5
    assert ds.load_volume(meta["id"][0]).shape == (7, 20, 24)
    assert ds.load_image(meta["id"][0]).shape == (40, 30)


@pytest.mark.parametrize("override, words", [
    ({"glaucoma": np.array(3)}, "glaucoma = 3 is not a valid code"),
    ({"oct_bscans": np.zeros((20, 24), np.uint8)}, "expected a volume"),
])
def test_fairvision_reader_names_bad_fields(tmp_path, override, words):
    write_fairvision(tmp_path, **override)
    with pytest.raises(DatasetError, match=words):
        read_fairvision(tmp_path)


def test_fairvision_reader_names_missing_parts(tmp_path):
    write_fairvision(tmp_path)
    for p in (tmp_path / "val").iterdir():
        p.unlink()
    (tmp_path / "val").rmdir()
    with pytest.raises(DatasetError, match="no val/ folder"):
        read_fairvision(tmp_path)
    np.savez(tmp_path / "train" / "data_000009.npz", slo_fundus=np.zeros(
        (4, 4), np.uint8))
    (tmp_path / "val").mkdir()
    np.savez(tmp_path / "val" / "x.npz", glaucoma=np.array(0))
    with pytest.raises(DatasetError, match="lacks field.*oct_bscans"):
        read_fairvision(tmp_path)


def test_volumes_are_loaded_as_evenly_spaced_slices(tmp_path):
    write_fairvision(tmp_path)
    ds = read_fairvision(tmp_path)
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    split = load_split(ds, "train", image_size=16,
                       tokenizer=bundle.tokenizer, n_slices=3,
                       cache_dir=tmp_path / "cache")
    assert split.volumes.shape == (4, 3, 16, 16)
    assert slice_positions(7, 3).tolist() == [0, 3, 6]
    volume = ds.load_volume(split.ids[1])
    from PIL import Image
    want = np.asarray(Image.fromarray(volume[3]).resize((16, 16),
                                                        Image.BILINEAR))
    np.testing.assert_array_equal(split.volumes[1, 1].numpy(), want)
    assert split.batch([2, 0]).volumes.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="no volumes"):
        load_split(fnb.open_dataset("", preset="smoke", summaries="none"),
                   "train", image_size=16, tokenizer=bundle.tokenizer,
                   n_slices=2)
    with pytest.raises(ValueError, match="uint8 volume"):
        preprocess_volume(np.zeros((3, 4)), image_size=8, n_slices=1)


def rnfl_rows(scan: np.ndarray, column: int) -> int:
    """Rows of the bright band below the first bright pixel of a column
    (the RNFL), measured on a noise-free scan."""
    bright = scan[:, column] > 0.5 * 255
    top = int(np.argmax(bright))
    return int(np.argmin(bright[top:]))


def test_bscans_thin_with_the_cup_as_documented():
    thick = render_bscans(np.random.default_rng(1), 0.375, noise=0.0)
    thin = render_bscans(np.random.default_rng(1), 0.7, noise=0.0)
    k, col = 6, int(0.3 * thick.shape[2])
    ratio = rnfl_rows(thin[k], col) / rnfl_rows(thick[k], col)
    assert ratio == pytest.approx(rnfl_thickness(0.7) / rnfl_thickness(
        0.375), abs=0.08)
    assert rnfl_thickness(0.375) == pytest.approx(1.0)


def test_oct_stand_in_plants_the_documented_disparity(tmp_path):
    root = make_synthetic_oct(tmp_path / "oct", n=120, seed=3)
    ds = read_fairvision(root)
    truth = pd.read_csv(root / "synthetic_truth.csv")
    meta = ds.metadata()
    assert set(meta["id"]) == set(truth["filename"].str[:-4])
    assert (truth["bias_group"] == (meta.set_index("id").loc[
        truth["filename"].str[:-4], "race"] == 1).to_numpy()).all()
    # background speckle (rows above the retina) and layer brightness
    noise, rpe = {True: [], False: []}, {True: [], False: []}
    for row in truth.itertuples():
        scans = ds.load_volume(row.filename[:-4]).astype(float)
        noise[row.bias_group].append(scans[:, :6].std())
        rpe[row.bias_group].append(np.percentile(scans, 99))
    assert np.mean(noise[True]) > 1.3 * np.mean(noise[False])
    assert np.mean(rpe[True]) < np.mean(rpe[False])
    # glaucoma thins the RNFL in the files, as the truth table says
    thin = truth.merge(meta.assign(filename=meta["id"] + ".npz"),
                       on="filename")
    assert thin.groupby("label")["rnfl"].mean()[1] < \
        thin.groupby("label")["rnfl"].mean()[0]
    again = make_synthetic_oct(tmp_path / "oct2", n=120, seed=3)
    first = sorted((root / "train").iterdir())[0]
    assert first.read_bytes() == (again / "train" / first.name).read_bytes()


def test_comparison_table_reads_each_runs_metrics():
    from pathlib import Path

    from fairnb.multimodal import TrainedRun, comparison_table
    runs = [TrainedRun(m, type("R", (), {"path": Path(f"/x/{m}")})(), None,
                       None, {"auc": a, "es_auc_gender": e,
                              "auc_gender_female": f, "auc_gender_male": 0.9,
                              "dpd_gender": 0.1, "deodds_gender": 0.2,
                              "best_epoch": 3})
            for m, a, e, f in (("multifair", 0.91, 0.88, 0.87),
                               ("fusion", 0.8, 0.7, 0.75))]
    table = comparison_table(runs, "gender").set_index("method")
    assert table.loc["fusion", "AUC"] == 0.8
    assert table.loc["multifair", "ES-AUC"] == 0.88
    assert table.loc["multifair", "AUC Female"] == 0.87
    assert table.loc["fusion", "run"] == "fusion"


def test_modulation_figure_draws_what_the_epochs_logged():
    epochs = pd.DataFrame({"epoch": [1, 2], "B_slo": [0.4, 0.6],
                           "B_note": [0.6, 0.4], "factor_slo": [0.5, 0.7],
                           "r_slo_female": [1.1, 1.0],
                           "r_slo_male": [0.9, 1.0]})
    fig = fnb.plots.modulation_figure(epochs, "gender")
    names = {t.name: list(t.y) for t in fig.data}
    assert names["B slo"] == [0.4, 0.6] and names["B note"] == [0.6, 0.4]
    assert names["factor slo"] == [0.5, 0.7]
    assert names["Female (slo)"] == [1.1, 1.0]
    assert "factor note" not in names
    assert fnb.plots.modulation_figure(epochs[["epoch"]], "gender") is None
