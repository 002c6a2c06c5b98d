"""Reading Harvard-FairVLMed (or the synthetic stand-in in the same layout)."""
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


def open_dataset(data_dir: str = "", *, preset: str = "demo", seed: int = 0,
                 summaries="auto", splits=None) -> FairVLMed:
    """The dataset a notebook works on.

    ``data_dir`` empty means the embedded default: the synthetic stand-in of
    the preset's size, generated on first use into ``FAIRNB_DATA_DIR``.
    Otherwise ``data_dir`` is a folder in the Harvard-FairVLMed layout
    (relative paths resolve against the repository root).
    """
    from ..paths import resolve

    root = ensure_synthetic(preset, seed=seed) if not data_dir else resolve(
        data_dir)
    kw = {} if splits is None else {"splits": splits}
    return read_dataset(root, summaries=summaries, **kw)


__all__ += ["open_dataset"]
