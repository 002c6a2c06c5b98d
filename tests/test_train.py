import numpy as np
import pytest
import torch

import fairnb as fnb
from fairnb.config import ExploreConfig
from fairnb.methods import Method
from fairnb.train import TrainSettings, make_optimizer, train


@pytest.fixture(scope="module")
def smoke():
    ds = fnb.open_dataset(preset="smoke")
    torch.manual_seed(0)
    bundle = fnb.create_model("fairnb-tiny")
    data = {s: fnb.load_split(ds, s, image_size=bundle.image_size,
                              tokenizer=bundle.tokenizer)
            for s in ("train", "val")}
    return bundle, data


def fresh(bundle, seed=0):
    torch.manual_seed(seed)
    return fnb.create_model(bundle.name)


def test_two_epochs_lower_the_loss_and_checkpoint(smoke, tmp_path):
    bundle, data = smoke
    model = fresh(bundle)
    run = fnb.start_run(ExploreConfig.create(), root=tmp_path)
    method = fnb.make_method("fairclip", attribute="race", fair_weight=1.0)
    history = train(model, method, data["train"], data["val"],
                    settings=TrainSettings(epochs=2, batch_size=32,
                                           device="cpu"), run=run)
    losses = history.epochs_frame()["train_loss"].to_numpy()
    assert losses[1] < losses[0]
    assert "fair_term" in history.steps_frame()
    assert history.best_epoch in (1, 2)
    last = torch.load(run.path / "checkpoints/last.pt", weights_only=False)
    assert last["epoch"] == 2
    assert {"model", "optimizer", "scheduler", "sampler", "rng",
            "history"} <= set(last)
    assert last["sampler"]["epoch"] == 1
    # best.pt loads back through the public loader with the same weights
    best = fnb.create_model("fairnb-tiny",
                            pretrained=str(run.path / "checkpoints/best.pt"))
    state = torch.load(run.path / "checkpoints/best.pt",
                       weights_only=True)["model"]
    for k, v in best.model.state_dict().items():
        torch.testing.assert_close(v, state[k])


class NanAtSecondEpoch(Method):
    def loss(self, fwd, batch):
        loss, logs = super().loss(fwd, batch)
        self.calls = getattr(self, "calls", 0) + 1
        return (loss * float("nan") if self.calls > self.limit else loss), logs


def test_nan_loss_stops_with_a_clear_message_and_keeps_checkpoint(
        smoke, tmp_path):
    bundle, data = smoke
    run = fnb.start_run(ExploreConfig.create(), root=tmp_path)
    method = NanAtSecondEpoch()
    method.limit = 7  # smoke train split: 7 batches of 32 in epoch 1
    with pytest.raises(FloatingPointError, match="last good checkpoint"):
        train(fresh(bundle), method, data["train"], data["val"],
              settings=TrainSettings(epochs=3, batch_size=32,
                                     device="cpu"), run=run)
    last = torch.load(run.path / "checkpoints/last.pt", weights_only=False)
    assert last["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in last["model"].values()
               if v.is_floating_point())


def test_official_optimizer_trains_visual_and_text_blocks_only(smoke):
    bundle, _ = smoke
    model = fresh(bundle).model
    opt = make_optimizer(model, TrainSettings(optimizer="official", lr=1e-5))
    group = opt.param_groups[0]
    assert group["betas"] == (0.1, 0.1) and group["eps"] == 1e-6
    assert group["weight_decay"] == 6e-5
    trained = {id(p) for p in group["params"]}
    assert id(model.logit_scale) not in trained
    assert id(model.token_embedding.weight) not in trained
    assert not model.token_embedding.weight.requires_grad
    assert all(id(p) in trained for p in model.visual.parameters())


def test_selection_uses_validation_and_restores_the_best_epoch(smoke):
    bundle, data = smoke
    model = fresh(bundle, seed=1)
    history = train(model, fnb.make_method("clip"), data["train"],
                    data["val"], settings=TrainSettings(
                        epochs=2, batch_size=32, device="cpu"))
    aucs = history.epochs_frame()["val_auc"].to_numpy()
    assert history.best_epoch == int(np.nanargmax(aucs)) + 1
    pred = fnb.zero_shot(model, data["val"], device="cpu")
    assert pred.metrics()["auc"] == pytest.approx(history.best_val_auc)


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
