"""The `pivfleet` command line and the embedded run (`pivfleet run`). Imports everything."""
