"""The reference engine: OpenPIV's windef passes (`first_pass`, `multipass_img_deform`) on
float64 frames, with pivfleet's settings."""

from __future__ import annotations

import math

import numpy as np
from openpiv import filters, validation, windef
from openpiv.settings import PIVSettings

from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.vectors import Vectors

FIRST_PASS_ONLY = {"first_pass_max_filter_iteration", "first_pass_filter_kernel_size"}


def to_openpiv(piv: PivSettings) -> PIVSettings:
    """A fresh OpenPIV settings object: windef mutates it, so each call gets its own."""
    fields = piv.model_dump(exclude={"windows", "overlaps", *FIRST_PASS_ONLY})
    settings = PIVSettings(windowsizes=piv.windows, overlap=piv.overlaps, **fields)
    settings.num_iterations = len(piv.windows)
    if piv.std_threshold is None:
        settings.std_threshold = math.inf
    return settings


def run_passes(frame_a: Frame, frame_b: Frame, piv: PivSettings) -> Vectors:
    """`first_pass`, validation and replacement, then `multipass_img_deform` per later pass."""
    settings = to_openpiv(piv)
    x, y, u, v, s2n = windef.first_pass(frame_a, frame_b, settings)
    u, v = np.ma.masked_array(u, mask=False), np.ma.masked_array(v, mask=False)
    flags = np.zeros(u.shape, dtype=bool)
    if settings.validation_first_pass or settings.num_iterations == 1:
        flags = validation.typical_validation(u, v, s2n, settings)
    if settings.num_iterations > 1 or settings.replace_vectors:
        u, v = filters.replace_outliers(
            u,
            v,
            flags,
            method=piv.filter_method,
            max_iter=piv.first_pass_max_filter_iteration,
            kernel_size=piv.first_pass_filter_kernel_size,
        )
    for current in range(1, settings.num_iterations):
        x, y, u, v, _, flags = windef.multipass_img_deform(
            frame_a, frame_b, current, x, y, u, v, settings
        )
    u = np.ma.fix_invalid(u, fill_value=0.0).data
    v = np.ma.fix_invalid(v, fill_value=0.0).data
    return Vectors(np.asarray(u, float), np.asarray(v, float), np.asarray(flags, np.int8))
