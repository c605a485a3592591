"""The models and pure functions every mode shares: run spec, messages, plans, tiling,
pairing, imaging, vectors, stitching, keys, outputs, summaries, ports. Imports nothing of ours
above it, no AWS SDK, and reads no environment."""
