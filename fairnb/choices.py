"""The valid values of parameters that several layers check, as data.

Kept free of heavy imports so that a notebook config can validate its
parameters without loading torch.
"""
from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")
DISTANCES = ("sinkhorn", "wasserstein1")
#: Sinkhorn solvers: POT/exact (default), or geomloss as the released code
BACKENDS = ("pot", "geomloss")
SIMILARITIES = ("cosine", "logit", "official")
GROUP_SOURCES = ("in_batch", "separate")
TRAINABLE = ("all", "towers")
SAMPLERS = ("auto", "plain", "balanced")
OPTIMIZERS = ("adamw", "official")
SCHEDULES = ("cosine", "constant")
EVAL_MASKS = ("all", "official")
SELECTIONS = ("val", "test")
#: checkpoints a finished 03 run keeps (last.pt only serves to resume)
KEEP_CHECKPOINTS = ("best", "last", "both", "none")
#: 06: where a grid of runs executes
EXECUTORS = ("local", "slurm")
#: 06: Validation rules that choose a setting per method
SELECTION_RULES = ("auc", "worst_group_auc", "dto")
