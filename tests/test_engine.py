"""The engine runs a method it has never heard of: one defined here,
registered by name, trained through ``fnb.train`` and through 03's
``method=`` (the README's "Adding a method" follows this file)."""
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fairnb as fnb
from fairnb.config import ExploreConfig
from fairnb.evaluate import DEFAULT_PROMPTS, Predictions
from fairnb.methods import CLIP, Forward, ParamGroup


@fnb.register_method("adapter_clip")
class AdapterCLIP(CLIP):
    """CLIP with a frozen backbone and a trainable residual adapter on the
    image features: its own module, parameter group, hooks, scorer and
    state."""

    def __init__(self, *, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.calls = {"epoch_start": 0, "before_step": 0, "epoch_end": 0}

    def setup(self, context):
        super().setup(context)
        dim = context.model.visual.output_dim
        self.adapter = torch.nn.Linear(dim, dim)
        torch.nn.init.zeros_(self.adapter.weight)

    def modules(self):
        return {"adapter": self.adapter}

    def trainable(self):
        return [ParamGroup("adapter", list(self.adapter.named_parameters()),
                           lr_scale=10.0)]

    def adapt(self, img):
        return F.normalize(img + self.scale * self.adapter(img), dim=-1)

    def forward(self, batch):
        fwd = super().forward(batch)
        return Forward(self.adapt(fwd.image_features), fwd.text_features,
                       fwd.logit_scale)

    def on_epoch_start(self, epoch, n_epochs):
        self.calls["epoch_start"] += 1

    def before_step(self, step):
        assert self.adapter.weight.grad is not None
        self.calls["before_step"] += 1

    def on_epoch_end(self, epoch):
        self.calls["epoch_end"] += 1

    @torch.no_grad()
    def score(self, data, *, device="cpu"):
        model, ctx = self.context.model, self.context
        batch = data.batch(np.arange(len(data)))
        img = self.adapt(model.encode_image(ctx.images(batch),
                                            normalize=True))
        prompts = model.encode_text(
            ctx.bundle.tokenizer(list(DEFAULT_PROMPTS)).to(ctx.device),
            normalize=True)
        y_score = torch.softmax(img @ prompts.T, dim=1)[:, 1].cpu().numpy()
        return Predictions(
            ids=np.asarray(data.ids), y_true=data.labels.numpy(),
            y_score=y_score, similarity=np.zeros(len(data)),
            attributes={a: data.attributes[:, i].numpy()
                        for i, a in enumerate(fnb.ATTRIBUTES)})

    def state_dict(self):
        return {"calls": dict(self.calls)}

    def load_state_dict(self, state):
        self.calls = dict(state["calls"])


@pytest.fixture
def smoke(smoke_splits):
    return smoke_splits[1]


def test_a_method_defined_outside_the_package_trains(smoke, tmp_path):
    assert "adapter_clip" in fnb.available_methods()
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    method = fnb.make_method("adapter_clip", scale=0.5)
    run = fnb.start_run(ExploreConfig.create(), root=tmp_path)
    history = fnb.train(bundle, method, smoke["train"], smoke["val"],
                        settings=fnb.TrainSettings(epochs=2, batch_size=32,
                                                   device="cpu"), run=run)
    steps = len(history.steps)
    assert steps == 2 * 7  # plain batches: ceil(210 / 32) per epoch
    assert method.calls == {"epoch_start": 2, "before_step": steps,
                            "epoch_end": 2}
    for k, v in bundle.model.state_dict().items():  # backbone frozen
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert method.adapter.weight.abs().sum() > 0  # the adapter trained
    assert all(p.requires_grad for p in bundle.model.parameters())
    last = torch.load(run.path / "checkpoints/last.pt", weights_only=True)
    assert last["method"] == "adapter_clip"
    assert last["method_state"]["calls"]["before_step"] == steps
    assert set(last["weights"]) == {"model", "adapter"}
    best = torch.load(run.path / "checkpoints/best.pt", weights_only=True)
    assert set(best["modules"]) == {"adapter"}


def test_options_a_method_does_not_take_are_refused():
    with pytest.raises(ValueError, match="Its options: scale"):
        fnb.make_method("adapter_clip", shrink=1.0)
    with pytest.raises(ValueError, match="adapter_clip"):
        fnb.make_method("adapter_clipp")


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute_03(tmp_path, **parameters):
    import papermill as pm
    pm.execute_notebook(
        str(NOTEBOOKS / "03_fairclip.ipynb"), str(tmp_path / "03.out.ipynb"),
        parameters={"preset": "smoke", **parameters}, kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False, execution_timeout=300)


def test_03_trains_a_registered_method_by_name(tmp_path, monkeypatch):
    from fairnb.runs import list_runs

    here = str(Path(__file__).parent)
    monkeypatch.setenv("FAIRNB_METHODS", "test_engine")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [here, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    execute_03(tmp_path, method="adapter_clip", epochs=1,
               method_options="scale:0.5", summaries="none", keep="both")
    [run] = list_runs("03_fairclip")
    metrics = json.loads((run / "metrics.json").read_text())
    params = json.loads((run / "params.json").read_text())
    assert params["method"] == "adapter_clip"
    assert 0 <= metrics["auc"] <= 1
    last = torch.load(run / "checkpoints/last.pt", weights_only=True)
    assert set(last["weights"]) == {"model", "adapter"}


def test_the_trainer_names_no_method():
    names = [n for n in fnb.available_methods()]
    root = Path(fnb.__file__).parent
    for module in ("engine.py", "optim.py", "callbacks.py", "checkpoints.py"):
        text = (root / module).read_text()
        for name in names:
            assert not re.search(rf"\b{name}\b", text, re.I), (module, name)
