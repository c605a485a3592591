"""The collector role: tile results → stitched pair outputs → run summary."""
