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
#: acquisition conditions of a split (:mod:`fairnb.data.shift`); "source"
#: is the data as stored
CONDITIONS = ("source", "low_contrast", "blur", "noise", "device_b")
SELECTIONS = ("val", "test")
#: checkpoints a finished 03 run keeps (last.pt only serves to resume)
KEEP_CHECKPOINTS = ("best", "last", "both", "none")
#: 06: where a grid of runs executes
EXECUTORS = ("local", "slurm")
#: 06: Validation rules that choose a setting per method
SELECTION_RULES = ("auc", "worst_group_auc", "dto")
#: 07: the modality pairs of MultiFair and its gradient-modulation options
MODALITY_PAIRS = ("slo+note", "slo+oct")
MODULATIONS = ("dual", "modality", "group", "off")
DIRECTIONS = ("off", "differentiable")
FAIR_LOSSES = ("constant", "differentiable")
#: 07: methods of the two-modality classifier and the baselines 07 trains
#: beside MultiFair, per modality pair
MULTIMODAL_METHODS = ("multifair", "fusion", "slo_only", "note_only",
                      "oct_only")
MULTIMODAL_BASELINES = {"slo+note": ("fusion", "slo_only", "note_only"),
                        "slo+oct": ("fusion", "slo_only", "oct_only")}
#: 07: the released MultiFair code's values per modality pair
#: (shared/METHODS.md §3.4)
MULTIFAIR_RELEASED = {
    "slo+note": {"dim": 256, "heads": 8, "layers": 3, "tau": 0.07,
                 "kappa": 0.5},
    "slo+oct": {"dim": 128, "heads": 4, "layers": 2, "tau": 0.04,
                "kappa": 0.3}}
#: 08: prompt-learning methods on a frozen backbone
PROMPT_METHODS = ("dualfairvl",)
#: 03: how training runs, in the notebook's process or in ``devices``
#: processes started by ``torchrun`` (:func:`fairnb.jobs.launch`)
LAUNCHERS = ("inline", "torchrun")
