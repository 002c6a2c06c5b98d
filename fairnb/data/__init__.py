"""Reading Harvard-FairVLMed (or the synthetic stand-in in the same layout)."""
from pathlib import Path

from .fairvlmed import (
    FIELDS,
    SPLITS,
    DatasetError,
    FairVLMed,
    Record,
    read_dataset,
)
from .synthetic import (
    PRESET_SIZES,
    Bias,
    describe_bias,
    ensure_synthetic,
    make_synthetic,
)

__all__ = ["Bias", "DatasetError", "FIELDS", "FairVLMed", "PRESET_SIZES",
           "Record", "SPLITS", "describe_bias", "ensure_synthetic",
           "make_synthetic", "read_dataset"]


def locate_dataset(data_dir: str = "", *, preset: str = "demo",
                   seed: int = 0, bias: float = 1.0) -> Path:
    """The dataset folder a notebook works on: ``data_dir`` (relative paths
    resolve against the repository root), or, when empty, the synthetic
    stand-in of the preset's size with the planted disparity at strength
    ``bias`` (:meth:`Bias.scaled`), generated on first use into
    ``FAIRNB_DATA_DIR``."""
    from ..paths import resolve
    if data_dir and float(bias) != 1.0:
        raise ValueError(
            f"bias={bias!r} sets the planted disparity of the synthetic "
            f"stand-in, but data_dir={data_dir!r} reads a dataset folder; "
            "leave data_dir empty to vary the planted gap, or bias at 1.")
    return ensure_synthetic(preset, seed=seed, bias=bias) if not data_dir \
        else resolve(data_dir)


__all__ += ["locate_dataset"]
