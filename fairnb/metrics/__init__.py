"""Group performance metrics: AUC, accuracy, equity-scaled (ES) metrics,
demographic parity and equalized odds differences, disparity summaries,
and group reports with stratified-bootstrap confidence intervals and
paired comparisons of two runs (kernels in ``_bootstrap``).

Definitions follow shared/METHODS.md §0.3 (FairCLIP ``src/modules.py``,
MultiFair ``model_evaluation.py``). Every function is pure and takes numpy
arrays, so resampling (bootstrap) can call them on indexed copies.

Used in: 03_fairclip, 04_fairness_dashboard.
"""
from .._bootstrap import COMPARE_COLUMNS, REPORT_COLUMNS, GroupReport
from .reports import (
    compare,
    compare_predictions,
    flat_metrics,
    group_report,
    group_reports,
    report_table,
    reports_frame,
)
from .scores import (
    BETWEEN_GROUP_KEYS,
    accuracy,
    auc,
    demographic_parity_difference,
    equalized_odds_difference,
    equity_scaled,
    group_values,
    official_mask,
    summarize,
)

__all__ = [
    "COMPARE_COLUMNS",
    "REPORT_COLUMNS",
    "GroupReport",
    "group_report",
    "group_reports",
    "compare",
    "reports_frame",
    "flat_metrics",
    "report_table",
    "compare_predictions",
    "auc",
    "accuracy",
    "group_values",
    "equity_scaled",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "summarize",
    "official_mask",
    "BETWEEN_GROUP_KEYS",
]
