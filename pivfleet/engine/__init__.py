"""The PIV passes themselves. Today the reference engine (OpenPIV's windef). Imports core."""
