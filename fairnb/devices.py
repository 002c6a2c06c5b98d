"""Device selection and mixed precision.

``device="auto"`` picks CUDA when present, else the CPU. On CUDA the
forward pass runs under autocast (bf16 where supported, else fp16 with a
gradient scaler) while the weights stay fp32 — the fix for the official
code's fp16-weights hack that crashes at lambda >= 1e-5 (METHODS.md B3).
"""
from __future__ import annotations

from contextlib import nullcontext

import torch

from .attributes import check_choice
from .choices import DEVICES  # noqa: E402


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cuda:1`` works."""
    base = str(device).split(":")[0]
    check_choice("device", base, DEVICES)
    if base == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' but no CUDA device is visible; "
                           "use device='auto' or 'cpu'.")
    return torch.device(device)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 or fp16 on CUDA, None (fp32) on the CPU."""
    if device.type != "cuda":
        return None
    return (torch.bfloat16 if torch.cuda.is_bf16_supported()
            else torch.float16)


def autocast(device: torch.device):
    """The autocast context for ``device`` (a no-op on the CPU)."""
    dtype = autocast_dtype(device)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    """A scaler that is active only for fp16 autocast."""
    return torch.amp.GradScaler(
        device.type, enabled=autocast_dtype(device) == torch.float16)
