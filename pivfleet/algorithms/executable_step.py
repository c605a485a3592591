"""A wrapped executable as an image step (`run.json`'s `steps`): its spec's outputs are
`frame_a` and `frame_b`, both frames in, both out, run once per pair in a fresh work folder
by the same runtime as a vector algorithm (`algorithms/executable.py`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pivfleet.algorithms.executable import ExecutableAlgorithm
from pivfleet.algorithms.staging import read_staged
from pivfleet.core.algorithm_spec import FRAME_INPUTS, AlgorithmSpec, argument_list
from pivfleet.core.algorithm_spec import parameter_values as spec_parameter_values
from pivfleet.core.imaging import Frame


class ExecutableImageStep:
    """The image step an `AlgorithmSpec` with frame outputs describes."""

    def __init__(self, spec: AlgorithmSpec, source: str) -> None:
        self.spec, self.source, self.name = spec, source, spec.name
        self.command = ExecutableAlgorithm(spec, source)

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        self.command.check_parameters(parameters)

    def process_images(
        self, frame_a: Frame, frame_b: Frame, parameters: dict[str, Any]
    ) -> tuple[Frame, Frame]:
        values = spec_parameter_values(self.spec, parameters)
        with tempfile.TemporaryDirectory(prefix=f"pivfleet-{self.name}-") as scratch:
            work = Path(scratch)
            staged = self.command.stage(work, (frame_a, frame_b))
            self.command.run(argument_list(self.spec, values, staged), work)
            frame_a, frame_b = (self.image(work, name) for name in FRAME_INPUTS)
            return frame_a, frame_b

    def image(self, work: Path, name: str) -> Frame:
        """Output `name` read back; a missing or unreadable file is permanent (the same
        frames make the same file)."""
        output = self.spec.outputs[name]
        path = self.command.output_file(work, output, f"{name}'s outputBinding.glob")
        try:
            return read_staged(path, output.format)
        except (ValueError, OSError) as error:
            raise self.command.bad_output(path, output, error) from None
