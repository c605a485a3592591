"""The built-in algorithm: OpenPIV's multi-pass window deformation on float64 frames."""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np
from openpiv import filters, validation, windef
from openpiv.settings import PIVSettings

from pivfleet.algorithm import Vectors
from pivfleet.imaging import Frame
from pivfleet.spec import PivSettings

FIRST_PASS_ONLY = {"first_pass_max_filter_iteration", "first_pass_filter_kernel_size"}


def to_openpiv(piv: PivSettings) -> PIVSettings:
    """A fresh OpenPIV settings object: windef mutates it, so each call gets its own."""
    fields = piv.model_dump(exclude={"windows", "overlaps", *FIRST_PASS_ONLY})
    settings = PIVSettings(windowsizes=piv.windows, overlap=piv.overlaps, **fields)
    settings.num_iterations = len(piv.windows)
    if piv.std_threshold is None:
        settings.std_threshold = math.inf
    return settings


class WindefAlgorithm:
    """`first_pass` then `multipass_img_deform` per pass, with the user's settings."""

    name = "windef"

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors:
        if parameters:
            raise ValueError(f"windef takes its settings from 'piv'; unknown {sorted(parameters)}")
        # OpenPIV prints a line per pass ("Found N bad peak(s)"); keep worker logs structured.
        with contextlib.redirect_stdout(io.StringIO()):
            return run_passes(frame_a, frame_b, piv)


def run_passes(frame_a: Frame, frame_b: Frame, piv: PivSettings) -> Vectors:
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
