"""Predictions of one split as a run folder keeps them (torch-free).

``predictions.npz`` holds ``format_version``, ``ids``, ``y_true``,
``y_score``, ``similarity`` (matched-pair cosines, zeros where a method
has none) and ``attr_<attribute>`` codes. Figures, metrics and the
dashboard read it without loading torch.

Used in: 03_fairclip, 04_fairness_dashboard.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import wasserstein_distance

from .attributes import check_choice, code_to_name, group_slug
from .runs import atomic_write_bytes

#: version of the ``predictions.npz`` layout
FORMAT_VERSION = 1


@dataclass
class Predictions:
    """Zero-shot outputs of one split, as saved in ``predictions.npz``."""

    ids: np.ndarray
    y_true: np.ndarray
    y_score: np.ndarray
    similarity: np.ndarray  # cos(image_i, text_i) of matched pairs
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_split(cls, data, *, y_score, similarity) -> "Predictions":
        """Scores of a split (:class:`fairnb.data.torch.SplitData`) with
        its ids, labels and every attribute."""
        from .attributes import ATTRIBUTES
        return cls(ids=np.asarray(data.ids), y_true=data.labels.numpy(),
                   y_score=np.asarray(y_score, dtype=np.float64),
                   similarity=np.asarray(similarity, dtype=np.float64),
                   attributes={a: data.attributes[:, i].numpy()
                               for i, a in enumerate(ATTRIBUTES)})

    def save(self, path) -> None:
        """Write ``predictions.npz`` (format :data:`FORMAT_VERSION`)."""
        buf = io.BytesIO()
        np.savez(buf, format_version=np.int64(FORMAT_VERSION),
                 ids=self.ids.astype(str), y_true=self.y_true,
                 y_score=self.y_score, similarity=self.similarity,
                 **{f"attr_{a}": v for a, v in self.attributes.items()})
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "Predictions":
        """Read a ``predictions.npz`` (no pickles; older files without a
        version are format 1)."""
        try:
            z = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path} does not exist: the run folder has no predictions "
                "(a 03 run writes predictions.npz). Pass a complete 03 run."
            ) from None
        except Exception as exc:  # BadZipFile, truncated, not an npz
            raise ValueError(
                f"{path} is not a readable predictions file "
                f"({type(exc).__name__}: damaged or truncated). Re-run the "
                "notebook that wrote it (03) for a new run folder.") from None
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} holds one array, not the predictions "
                             "archive 03 writes.")
        with z:
            missing = {"ids", "y_true", "y_score", "similarity"} - set(
                z.files)
            if missing:
                raise ValueError(
                    f"{path} lacks {sorted(missing)}; it is not a "
                    "predictions file of 03. Pass a 03 run folder.")
            version = int(z["format_version"]) if "format_version" in \
                z.files else 1
            if version > FORMAT_VERSION:
                raise ValueError(
                    f"{path} has predictions format {version}; this fairnb "
                    f"reads up to {FORMAT_VERSION}. Update fairnb.")
            attrs = {k[5:]: z[k] for k in z.files if k.startswith("attr_")}
            return cls(ids=z["ids"], y_true=z["y_true"], y_score=z["y_score"],
                       similarity=z["similarity"], attributes=attrs)

    @classmethod
    def concat(cls, parts) -> "Predictions":
        """The predictions of several parts of a split, in order (e.g.
        each process's slice, :meth:`fairnb.distributed.World.score`).

        >>> a = Predictions(np.array(["x"]), np.array([1]), np.array([.9]),
        ...                 np.array([.3]), {"race": np.array([0])})
        >>> Predictions.concat([a, a]).attributes["race"].tolist()
        [0, 0]
        """
        parts = list(parts)
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts])
                      for k in ("ids", "y_true", "y_score", "similarity")},
                   attributes={a: np.concatenate([p.attributes[a]
                                                  for p in parts])
                               for a in parts[0].attributes})

    def subset(self, mask) -> "Predictions":
        """The samples where ``mask`` (bool, shape (n,)) is True."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.y_true.shape:
            raise ValueError(f"mask has shape {mask.shape}; the predictions "
                             f"{self.y_true.shape}.")
        return Predictions(
            ids=self.ids[mask], y_true=self.y_true[mask],
            y_score=self.y_score[mask], similarity=self.similarity[mask],
            attributes={a: v[mask] for a, v in self.attributes.items()})

    def metrics(self, *, threshold: float = 0.5,
                include_unknown: bool = False) -> dict[str, float]:
        """Flat metrics (:func:`fairnb.metrics.summarize`) plus the
        similarity W1 of every group."""
        from .metrics import summarize
        out = summarize(self.y_true, self.y_score,
                        attributes=self.attributes, threshold=threshold,
                        include_unknown=include_unknown)
        if np.isfinite(self.similarity).any():  # not for a probe (05)
            out.update(similarity_w1(self.similarity, self.attributes))
        return out


def similarity_w1(similarity: np.ndarray,
                  attributes: dict[str, np.ndarray]) -> dict[str, float]:
    r"""``similarity_w1_<attribute>_<group>``: the 1-D Wasserstein-1
    distance between a group's matched-pair similarities and all of them,
    :math:`W_1(\{s_i\}_{A_i=g}, \{s_i\})` — the quantity FairCLIP acts on.
    """
    s = np.asarray(similarity, dtype=np.float64).reshape(-1, 1)
    out = {}
    for a, codes in attributes.items():
        for g in sorted(set(np.unique(codes)) - {-1}):
            part = s[codes == g]
            key = f"similarity_w1_{a}_{group_slug(code_to_name(a, g))}"
            out[key] = float(wasserstein_distance(part.ravel(), s.ravel()))
    return out


def mask_predictions(pred: Predictions, eval_mask: str = "all"
                     ) -> Predictions:
    """``pred`` under an evaluation mask: ``all`` keeps every sample,
    ``official`` only those known in race, gender, ethnicity and language
    (what the released FairCLIP code evaluates on)."""
    from .metrics import official_mask
    check_choice("eval_mask", eval_mask, ("all", "official"))
    if eval_mask == "all":
        return pred
    return pred.subset(official_mask(pred.attributes))


def group_table(pred: Predictions, *, include_unknown: bool = False):
    """Tidy per-group table for ``by_group.csv``: columns ``attribute,
    group, metric, value, n, ci_low, ci_high`` (metrics ``auc``, ``acc``,
    ``similarity_w1``; CIs are empty here and filled by the dashboard's
    bootstrap)."""
    import pandas as pd

    from .attributes import group_names
    flat = pred.metrics(include_unknown=include_unknown)
    rows = []
    for a in pred.attributes:
        for name in group_names(a, include_unknown=include_unknown):
            slug = group_slug(name)
            n = flat.get(f"n_{a}_{slug}", 0)
            for metric in ("auc", "acc", "similarity_w1"):
                key = (f"similarity_w1_{a}_{slug}" if metric ==
                       "similarity_w1" else f"{metric}_{a}_{slug}")
                if key in flat:
                    rows.append((a, name, metric, flat[key], n, np.nan,
                                 np.nan))
    return pd.DataFrame(rows, columns=["attribute", "group", "metric",
                                       "value", "n", "ci_low", "ci_high"])
