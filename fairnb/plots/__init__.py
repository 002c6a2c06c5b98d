"""Pure plotly figure builders (no display side effects).

Every figure colours a group the same way everywhere (:func:`group_colors`,
the colour-blind-safe Okabe-Ito palette; Unknown is grey) and has axis
titles with units. ``fnb.plots.<name>`` reaches every builder:

- :mod:`.data`: figures of the dataset (01_explore_data);
- :mod:`.training`: curves, per-group metrics, similarities (03);
- :mod:`.summaries`: summary lengths and diagnosis retention (02);
- :mod:`.fairness`: ROC, intervals, threshold sweeps, calibration,
  confusion, Pareto and comparisons (04_fairness_dashboard);
- :mod:`.comparison`: differences over seeds and samples, the mechanism
  check, mean ranks (06_compare_methods).
"""
from ._style import OKABE_ITO, TEMPLATE, UNKNOWN_COLOR, group_colors
from .comparison import (
    differences_figure,
    gap_figure,
    mechanism_figure,
    ranks_figure,
)
from .data import (
    age_figure,
    crosstab_figure,
    example_titles,
    group_counts_figure,
    image_grid_figure,
    note_length_figure,
    prevalence_figure,
)
from .fairness import (
    comparison_figure,
    confusion_figure,
    metric_bars_figure,
    pareto_figure,
    pareto_front,
    posthoc_figure,
    reliability_figure,
    roc_figure,
    sweep_thresholds,
    threshold_sweep,
    threshold_sweep_figure,
)
from .summaries import retention_figure, summary_length_figure
from .training import (
    anchor_figure,
    condition_figure,
    group_metric_figure,
    loss_terms_figure,
    method_epochs_figure,
    modulation_figure,
    similarity_figure,
    training_figure,
)

__all__ = [
    "OKABE_ITO",
    "TEMPLATE",
    "UNKNOWN_COLOR",
    "group_colors",
    "group_counts_figure",
    "prevalence_figure",
    "age_figure",
    "note_length_figure",
    "image_grid_figure",
    "crosstab_figure",
    "example_titles",
    "differences_figure",
    "gap_figure",
    "mechanism_figure",
    "ranks_figure",
    "retention_figure",
    "summary_length_figure",
    "training_figure",
    "method_epochs_figure", "modulation_figure",
    "anchor_figure", "condition_figure", "loss_terms_figure",
    "posthoc_figure",
    "group_metric_figure",
    "similarity_figure",
    "sweep_thresholds",
    "roc_figure",
    "metric_bars_figure",
    "threshold_sweep",
    "threshold_sweep_figure",
    "reliability_figure",
    "confusion_figure",
    "pareto_front",
    "pareto_figure",
    "comparison_figure",
]
