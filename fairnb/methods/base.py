"""The interface between a training method and the engine.

A method owns its parts; the engine (:func:`fairnb.engine.train`) runs any
method without knowing which it is. A method says

- which parameters train (:meth:`Method.trainable`, named groups with
  their own learning-rate scale, weight decay or optimizer); everything
  else, the backbone included, stays frozen during training;
- which modules of its own it adds (:meth:`Method.modules`: heads,
  prompts), which the engine moves, checkpoints and switches between
  train and eval mode with the model;
- how a batch becomes a loss (:meth:`Method.training_step`, optionally
  per sample);
- what happens at epoch start and end and between backward and the
  optimizer step (:meth:`Method.before_step`, after gradients are
  unscaled: gradient modulation) and after it (:meth:`Method.after_step`),
  and what it adds to each epoch's log (:meth:`Method.epoch_logs`);
- which attributes the sampler must balance (:meth:`Method.balance`;
  none: plain shuffled batches), or whose groups get equal places in
  every batch (:meth:`Method.resample`: group resampling);
- how a split is scored (:meth:`Method.score` -> Predictions: zero-shot
  prompts, a classifier head, anchors, a probe);
- its state for checkpoints (:meth:`Method.state_dict`);
- whether it trains on several processes (:attr:`Method.distributed`).

Used in: 03_fairclip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class ParamGroup:
    """Named parameters the engine optimizes together.

    ``lr_scale`` multiplies the run's learning rate; ``weight_decay``
    None takes the optimizer's default (AdamW: no decay on gains, biases
    and temperatures); groups with the same ``optimizer`` key share one
    optimizer of the run's kind (``"main"``: the run's optimizer).
    """

    name: str
    params: list[tuple[str, torch.nn.Parameter]]
    lr_scale: float = 1.0
    weight_decay: float | None = None
    optimizer: str = "main"


@dataclass
class StepOutput:
    """What a training step returns: the loss to back-propagate (or the
    per-sample losses, averaged when ``loss`` is None) and values to log
    (plain floats)."""

    loss: torch.Tensor | None
    logs: dict[str, float] = field(default_factory=dict)
    per_sample: torch.Tensor | None = None


@dataclass
class Context:
    """What the engine hands a method in :meth:`Method.setup`."""

    bundle: Any  # fairnb.models.ModelBundle
    train: Any  # fairnb.data.torch.SplitData
    device: torch.device
    seed: int = 0
    settings: Any = None  # fairnb.engine.TrainSettings
    world: Any = None  # fairnb.distributed.World; None: one process

    def __post_init__(self):
        if self.world is None:
            from ..distributed import World
            self.world = World()

    @property
    def model(self) -> torch.nn.Module:
        return self.bundle.model

    def autocast(self):
        """The engine's mixed-precision context for this device."""
        from ..devices import autocast
        return autocast(self.device)

    def images(self, batch) -> torch.Tensor:
        """A batch's uint8 images as normalised model input on device."""
        from ..data.torch import to_model_input
        return to_model_input(batch.images, mean=self.bundle.mean,
                              std=self.bundle.std, device=self.device)


class Method:
    """Base of every training method (see the module docstring).

    Subclasses implement :meth:`training_step` and :meth:`score`; the
    rest has working defaults. ``name`` is set by
    :func:`fairnb.methods.register_method`.
    """

    name: str = ""
    #: whether :meth:`training_step` trains on several processes
    #: (:mod:`fairnb.distributed`): it forwards ``world.local(batch)`` and
    #: computes its loss on gathered features of the global batch
    distributed: bool = False

    def setup(self, context: Context) -> None:
        """Called once by the engine before training (or resuming)."""
        self.context = context

    def modules(self) -> dict[str, torch.nn.Module]:
        """Modules the method adds to the model (default none); called
        after :meth:`setup`, so they may be built there."""
        return {}

    def trainable(self) -> list[ParamGroup]:
        """Parameter groups to train; default every parameter of the model
        and of :meth:`modules`."""
        params = list(self.context.model.named_parameters())
        for key, module in self.modules().items():
            params += [(f"{key}.{n}", p) for n, p in
                       module.named_parameters()]
        return [ParamGroup("all", params)]

    def balance(self) -> tuple[str, ...]:
        """Attributes whose groups every batch should hold (default none:
        plain shuffled batches)."""
        return ()

    def resample(self) -> str | None:
        """An attribute whose groups should get equal places in every
        batch (group resampling, with ``sampler="auto"``), or None (the
        default)."""
        return None

    def training_step(self, batch, step: int) -> StepOutput:
        """Forward ``batch`` and return its :class:`StepOutput`."""
        raise NotImplementedError

    def before_step(self, step: int) -> None:
        """After backward (gradients unscaled), before clipping and the
        optimizer step."""

    def after_step(self, step: int) -> None:
        """After the optimizer step."""

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        """Before the first batch of ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int) -> None:
        """After the last batch of ``epoch``, before validation."""

    def epoch_logs(self) -> dict[str, float]:
        """Values the engine adds to the epoch's row (``epochs.csv``) after
        :meth:`on_epoch_end`: counts, weights (default none)."""
        return {}

    def score(self, data, *, device="cpu"):
        """Scores of a split as :class:`fairnb.evaluate.Predictions`."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """State to checkpoint (queues, memories); weights of
        :meth:`modules` are saved by the engine."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""

    def describe(self) -> str:
        """The objective in LaTeX."""
        return self.name
