import math
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import fairnb as fnb
from fairnb.attributes import ATTRIBUTES
from fairnb.callbacks import Callback
from fairnb.config import ExploreConfig
from fairnb.data.sampler import PlainBatchSampler
from fairnb.engine import TrainSettings, make_optimizers, train
from fairnb.methods import CLIP

engine = sys.modules["fairnb.engine"]


@pytest.fixture
def smoke(smoke_splits):
    return smoke_splits


def fresh(bundle, seed=0):
    return fnb.create_model(bundle.name, seed=seed)


def settings(**kw):
    return TrainSettings(**{"epochs": 2, "batch_size": 32, "device": "cpu",
                            **kw})


def test_two_epochs_lower_the_loss_and_checkpoint(smoke, tmp_path):
    bundle, data = smoke
    model = fresh(bundle)
    run = fnb.start_run(ExploreConfig.create(), root=tmp_path)
    method = fnb.make_method("fairclip", attribute="race", fair_weight=1.0)
    history = train(model, method, data["train"], data["val"],
                    settings=settings(), run=run)
    losses = history.epochs_frame()["train_loss"].to_numpy()
    assert losses[1] < losses[0]
    assert "fair_term" in history.steps_frame()
    last = torch.load(run.path / "checkpoints/last.pt", weights_only=True)
    assert last["epoch"] == 2 and last["method"] == "fairclip"
    assert {"weights", "optimizers", "schedulers", "scaler", "sampler",
            "rng", "history", "method_state", "settings"} <= set(last)
    assert last["sampler"]["epoch"] == 1
    assert last["quick_gelu"] == model.quick_gelu
    # best.pt loads back through the public loader with the same weights
    best = fnb.create_model("fairnb-tiny",
                            pretrained=str(run.path / "checkpoints/best.pt"))
    state = torch.load(run.path / "checkpoints/best.pt",
                       weights_only=True)["model"]
    for k, v in best.model.state_dict().items():
        torch.testing.assert_close(v, state[k])
    # so does last.pt (weights of the last epoch)
    again = fnb.create_model("fairnb-tiny",
                             pretrained=str(run.path / "checkpoints/last.pt"))
    for k, v in again.model.state_dict().items():
        torch.testing.assert_close(v, last["weights"]["model"][k])


class NanAfter(CLIP):
    def __init__(self, *, limit=7, grad=False):
        super().__init__()
        self.limit, self.grad, self.calls = limit, grad, 0

    def loss(self, fwd, batch):
        loss, logs = super().loss(fwd, batch)
        self.calls += 1
        if self.calls <= self.limit:
            return loss, logs
        if self.grad:  # finite loss, non-finite gradient: d sqrt(x)/dx at 0
            return loss + torch.sqrt(0 * fwd.image_features.sum()), logs
        return loss * float("nan"), logs


@pytest.mark.parametrize("grad, words", [(False, "The loss became nan"),
                                         (True, "gradient norm became")])
def test_non_finite_loss_or_gradient_stops_and_keeps_checkpoint(
        smoke, tmp_path, grad, words):
    bundle, data = smoke
    run = fnb.start_run(ExploreConfig.create(), root=tmp_path)
    method = NanAfter(limit=7, grad=grad)  # 7 plain batches in epoch 1
    method.name = "nan_after"
    with pytest.raises(FloatingPointError, match=words) as err:
        train(fresh(bundle), method, data["train"], data["val"],
              settings=settings(epochs=3), run=run)
    assert "last good checkpoint" in str(err.value)
    last = torch.load(run.path / "checkpoints/last.pt", weights_only=True)
    assert last["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in last["weights"][
        "model"].values() if v.is_floating_point())


def test_a_non_finite_loss_before_any_checkpoint_says_there_is_none(
        smoke, tmp_path):
    bundle, data = smoke
    run = fnb.start_run(ExploreConfig.create(), root=tmp_path)
    method = NanAfter(limit=0, grad=False)
    method.name = "nan_after"
    with pytest.raises(FloatingPointError) as err:
        train(fresh(bundle), method, data["train"], data["val"],
              settings=settings(epochs=1), run=run)
    assert "no epoch finished, so there is no checkpoint" in str(err.value)
    assert not (run.path / "checkpoints").exists()


def test_official_optimizer_trains_visual_and_text_blocks_only(smoke):
    bundle, data = smoke
    model = fresh(bundle)
    method = CLIP(trainable="towers")
    method.setup(fnb.methods.Context(bundle=model, train=data["train"],
                                     device=torch.device("cpu")))
    [opt] = make_optimizers(method.trainable(),
                            settings(optimizer="official", lr=1e-5)).values()
    group = opt.param_groups[0]
    assert group["betas"] == (0.1, 0.1) and group["eps"] == 1e-6
    assert group["weight_decay"] == 6e-5
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    m = model.model
    assert id(m.logit_scale) not in trained
    assert id(m.token_embedding.weight) not in trained
    assert id(m.text_projection) not in trained
    assert all(id(p) in trained for p in m.visual.parameters())
    assert all(id(p) in trained for p in m.transformer.parameters())
    # training freezes the rest only while it runs
    before = m.token_embedding.weight.detach().clone()
    train(model, method, data["train"], data["val"],
          settings=settings(epochs=1, optimizer="official"))
    torch.testing.assert_close(m.token_embedding.weight, before, rtol=0,
                               atol=0)
    assert m.token_embedding.weight.requires_grad


def scripted_scores(monkeypatch, values):
    values = list(values)
    monkeypatch.setattr(engine, "_score", lambda *a, **k: {
        "auc": values.pop(0), "es_auc": 0.5})


def test_selection_restores_the_best_epoch_not_the_last(smoke, monkeypatch):
    bundle, data = smoke
    model = fresh(bundle, seed=1)
    snapshots = []
    scripted_scores(monkeypatch, [0.9, 0.5])  # epoch 1 wins
    history = train(model, fnb.make_method("clip"), data["train"],
                    data["val"], settings=settings(), callbacks=[
                        lambda h: snapshots.append(
                            {k: v.clone() for k, v in
                             model.model.state_dict().items()})])
    assert history.best_epoch == 1 and history.best_score == 0.9
    changed = any(not torch.equal(snapshots[0][k], v)
                  for k, v in snapshots[1].items())
    assert changed  # epoch 2 moved the weights, so restoring matters
    for k, v in model.model.state_dict().items():
        torch.testing.assert_close(v, snapshots[0][k], rtol=0, atol=0)


def test_a_nan_score_counts_as_worst(smoke, monkeypatch):
    bundle, data = smoke
    scripted_scores(monkeypatch, [float("nan"), 0.6, 0.7])
    history = train(fresh(bundle), fnb.make_method("clip"), data["train"],
                    data["val"], settings=settings(epochs=3))
    assert history.best_epoch == 3


def test_official_protocol_plain_batches_no_clipping_and_mask(
        smoke, monkeypatch):
    bundle, data = smoke
    seen = []
    clip_grad = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **k):
        seen.append(max_norm)
        return clip_grad(params, max_norm, *a, **k)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    s = settings(protocol="official", epochs=1)
    assert (s.sampler, s.grad_clip, s.eval_mask) == ("plain", 0.0,
                                                     "official")
    model = fresh(bundle)
    cfg = fnb.FairCLIPConfig.create(protocol="official", method="fairclip")
    method = fnb.make_method("fairclip", **cfg.method_kwargs())
    eng = engine._Engine(model, method, data["train"], s, None)
    assert isinstance(eng.sampler, PlainBatchSampler)
    history = train(model, method, data["train"], data["val"], settings=s)
    assert seen and set(seen) == {math.inf}
    # the recorded Validation AUC is over samples known in all four paper
    # attributes only (mask computed here by hand)
    val = data["val"]
    cols = [ATTRIBUTES.index(a) for a in ("race", "gender", "ethnicity",
                                          "language")]
    keep = (val.attributes[:, cols] >= 0).all(1).numpy()
    assert 0 < keep.sum() < len(keep)
    pred = method.score(val)
    expected = roc_auc_score(pred.y_true[keep], pred.y_score[keep])
    assert history.epochs[0]["val_auc"] == pytest.approx(expected, abs=1e-12)
    assert expected != pytest.approx(roc_auc_score(pred.y_true,
                                                   pred.y_score))
    seen.clear()
    train(fresh(bundle), fnb.make_method("clip"), data["train"],
          data["val"], settings=settings(epochs=1))
    assert set(seen) == {1.0}  # the fairnb protocol clips at 1


def test_clip_trains_on_plain_batches_fairclip_on_group_batches(smoke):
    bundle, data = smoke
    plain = engine._Engine(fresh(bundle), fnb.make_method("clip"),
                           data["train"], settings(), None)
    assert isinstance(plain.sampler, PlainBatchSampler)
    plus = fnb.make_method("fairclip_plus", attribute_weights={
        "race": 0.5, "language": 0.5})
    assert plus.balance() == ("race", "language")
    group = engine._Engine(fresh(bundle), plus, data["train"], settings(),
                           None)
    assert type(group.sampler).__name__ == "MultiGroupBatchSampler"


def test_predictions_round_trip(smoke, tmp_path):
    bundle, data = smoke
    pred = fnb.zero_shot(bundle, data["val"], device="cpu")
    assert ((pred.y_score > 0) & (pred.y_score < 1)).all()
    pred.save(tmp_path / "p.npz")
    back = fnb.Predictions.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(back.ids, pred.ids)
    np.testing.assert_allclose(back.y_score, pred.y_score)
    assert set(back.attributes) == set(fnb.ATTRIBUTES)
    metrics = back.metrics()
    assert "similarity_w1_race_black" in metrics and "dpd_gender" in metrics


def test_test_set_selection_only_when_asked(smoke, monkeypatch):
    bundle, data = smoke
    with pytest.raises(ValueError, match="test_data"):
        train(fresh(bundle), fnb.make_method("clip"), data["train"],
              data["val"], settings=settings(selection="test"))
    scripted_scores(monkeypatch, [0.9, 0.1, 0.5, 0.8])  # val, test, ...
    history = train(fresh(bundle), fnb.make_method("clip"), data["train"],
                    data["val"], test_data=data["test"],
                    settings=settings(selection="test"))
    assert history.best_epoch == 2 and history.selection == "test"
    assert [r["test_auc"] for r in history.epochs] == [0.1, 0.8]
    assert history.best_val_auc == 0.5


def test_a_parameter_frozen_before_training_stays_frozen(smoke):
    bundle, data = smoke
    model = fresh(bundle)
    emb = model.model.token_embedding.weight
    emb.requires_grad_(False)
    before = emb.detach().clone()
    during = []

    class Watch(Callback):
        def on_step(self, history):
            during.append((emb.requires_grad, emb.grad is None))

    train(model, fnb.make_method("clip"), data["train"], data["val"],
          settings=settings(epochs=1), callbacks=[Watch()])
    assert set(during) == {(False, True)}  # no gradient computed for it
    torch.testing.assert_close(emb, before, rtol=0, atol=0)
    assert not emb.requires_grad
