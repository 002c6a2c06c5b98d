"""Training callbacks: things the engine calls after a step or an epoch.

A callback is a plain callable ``f(history)`` (called after every epoch)
or a :class:`Callback` with ``on_step`` and ``on_epoch_end``.

Used in: 03_fairclip.
"""
from __future__ import annotations


class Callback:
    """Base of callbacks with step and epoch hooks."""

    def on_step(self, history) -> None:
        """After every optimizer step (``history.steps[-1]`` is it)."""

    def on_epoch_end(self, history) -> None:
        """After every epoch's validation and checkpoint."""

    def __call__(self, history) -> None:
        self.on_epoch_end(history)


def plotly_bundle(fig) -> dict:
    """The mime bundle JupyterLab renders a plotly figure from (plotly's
    own ``plotly_mimetype`` renderer), with a text fallback."""
    import plotly.io as pio
    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(
        fig.to_plotly_json())
    bundle["text/plain"] = f"<training curves, {len(fig.data)} traces>"
    return bundle


class LiveCurves(Callback):
    """Draws the training curves in the notebook after every epoch, as
    one figure updated in place (headless runs keep the last drawing;
    save it with ``run.save_figure(curves.figure, ...)``).

    The figure is sent as a raw plotly mime bundle with a display id:
    ``display(fig)`` would go through plotly's own display hook, which
    ignores display ids and appends a new figure every time.
    """

    def __init__(self):
        self.handle = None
        self.figure = None

    def on_epoch_end(self, history) -> None:
        from IPython.display import display

        from .plots import training_figure
        self.figure = training_figure(history)
        bundle = plotly_bundle(self.figure)
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)
