"""Shared look of every fairnb figure: the colour-blind-safe Okabe-Ito
palette with one stable colour per group (Unknown grey), the template, and
small input helpers."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..attributes import (
    UNKNOWN_NAME,
    code_to_name,
    group_codes,
    group_names,
)

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
             "#D55E00", "#F0E442", "#000000")
UNKNOWN_COLOR = "#999999"
TEMPLATE = "plotly_white"


def group_colors(attribute: str) -> dict[str, str]:
    """Group name -> colour, stable across all figures."""
    names = group_names(attribute)
    colors = {n: OKABE_ITO[i % len(OKABE_ITO)] for i, n in enumerate(names)}
    colors[UNKNOWN_NAME] = UNKNOWN_COLOR
    return colors


def _layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, **kw)
    return fig


DIAGONAL = dict(type="line", x0=0, y0=0, x1=1, y1=1,
                line=dict(dash="dash", color="#888888", width=1))


def _known_groups(groups, attribute: str) -> list[tuple[int, str]]:
    """(code, name) of the known groups present in ``groups``, in schema
    order; Unknown (-1) is left out."""
    present = set(np.unique(np.asarray(groups)).tolist())
    return [(c, code_to_name(attribute, c)) for c in group_codes(attribute)
            if c in present]


def _arrays(*arrays) -> list[np.ndarray]:
    out = [np.asarray(a).reshape(-1) for a in arrays]
    if len({len(a) for a in out}) != 1:
        raise ValueError("Arrays differ in length: "
                         + ", ".join(str(len(a)) for a in out))
    return out
