"""The algorithm contract and registry (entry-point group `pivfleet.algorithms`) and the
built-in `windef`. Imports core and engine."""
