"""Time one peer PIV engine on one image pair, as a one-shot subprocess.

Peers (set up as in /work/shared/PEERS.md: 3 passes 64/32/16 px, 50 % overlap,
one thread):
  openpiv_rust  OpenPIV 0.26.1 windef.simple_multipass, backend "rust"
  pivtools      PIVTOOLs 0.7 InstantaneousCorrelatorCPU, omp_threads 1

Run under the peer's own venv (made by bench/peers/setup.sh):
  .bench-venv-rust/bin/python     bench/peers/one_peer.py openpiv_rust A.npy B.npy [--out DIR]
  .bench-venv-pivtools/bin/python bench/peers/one_peer.py pivtools     A.npy B.npy [--out DIR]

PIVTOOLs runs once to warm up (numba compiles on its first call), then one
call is timed with time.perf_counter. Stdout gets exactly one JSON line:
  {"seconds": s, "peak_rss_mib": m, "u": path, "v": path, "x": path, "y": path}
u, v (pixels) and the grid x, y (window centres, px) are saved as .npy in DIR
(a new temp dir if --out is not given), in the peer's own grid and signs.
Both return arrays with row 0 at the TOP of the image, u positive to the right:
  openpiv_rust  v positive UP (v = -row shift). x = 8, 16, ... (window start +
                w/2); y holds the same labels in reverse order (y[0] largest,
                after transform_coordinates), the arrays themselves are not flipped.
  pivtools      v positive DOWN (v = +row shift). x, y = 7.5, 15.5, ... in
                pixel-centre coordinates, y increasing downwards.
So for a same-shape grid: u_rust ~ u_pivtools, v_rust ~ -v_pivtools, and
x_rust = x_pivtools + 0.5.
peak_rss_mib is ru_maxrss of the whole process (imports and warm-up included).
Everything the peers print goes to stderr.
"""

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "NUMBA_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def make_openpiv_rust(a, b, workdir):
    """Return a no-argument callable running OpenPIV's Rust backend -> (x, y, u, v)."""
    from openpiv import pyprocess, windef

    if not pyprocess.HAS_RUST:
        raise RuntimeError("openpiv does not detect openpiv_rust (pyprocess.HAS_RUST is False)")
    s = windef.PIVSettings()
    s.windowsizes = (64, 32, 16)
    s.overlap = (32, 16, 8)
    s.num_iterations = 3
    s.backend = "rust"
    a32, b32 = a.astype(np.float32), b.astype(np.float32)

    def run():
        x, y, u, v, _flags = windef.simple_multipass(a32, b32, s)
        return x, y, u, v

    return run


def pivtools_config(workdir, shape):
    """Write a default config.yaml (as `pivtools-cli init` does), set PEERS.md keys, load it."""
    import yaml
    from pivtools_cli.cli import create_default_config
    from pivtools_core.config import Config

    path = Path(workdir) / "config.yaml"
    create_default_config(path)
    data = yaml.safe_load(path.read_text())
    piv = data["instantaneous_piv"]
    piv.update(
        window_size=[[64, 64], [32, 32], [16, 16]],
        overlap=[50, 50, 50],
        runs=[3],
        window_type="square",
    )
    data["processing"]["omp_threads"] = 1
    data["logging"]["file"] = str(Path(workdir) / "pypiv.log")
    path.write_text(yaml.safe_dump(data))
    config = Config(str(path))
    # Frames come as arrays, not files: fill the cache Config uses for the
    # shape it would otherwise detect from the first image on disk.
    config._detected_image_shape = tuple(shape)
    return config


def make_pivtools(a, b, workdir):
    """Return a no-argument callable running PIVTOOLs' CPU correlator -> (x, y, u, v)."""
    from pivtools_cli.piv.piv_backend.cpu_instantaneous import InstantaneousCorrelatorCPU

    config = pivtools_config(workdir, a.shape)
    corr = InstantaneousCorrelatorCPU(config)
    images = np.stack([a, b])[None].astype(np.float32)

    def run():
        last = corr.correlate_batch(images, config)[0].passes[-1]
        x, y = np.meshgrid(last.win_ctrs_x, last.win_ctrs_y)
        return x, y, last.ux_mat, last.uy_mat

    return run


PEERS = {"openpiv_rust": make_openpiv_rust, "pivtools": make_pivtools}


def measure(peer, a, b, out):
    """Build the peer, warm it up, time one call; save x, y, u, v in out."""
    with tempfile.TemporaryDirectory(prefix=f"peer_{peer}_") as workdir:
        run = PEERS[peer](a, b, workdir)
        if peer == "pivtools":  # its first call compiles (numba); OpenPIV's Rust does not
            run()
        t0 = time.perf_counter()
        fields = run()
        seconds = time.perf_counter() - t0
    report = {
        "seconds": seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    for name, arr in zip("xyuv", fields, strict=True):
        report[name] = str(out / f"{peer}_{name}.npy")
        np.save(report[name], np.asarray(arr, dtype=np.float64))
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=sorted(PEERS))
    ap.add_argument("frame_a")
    ap.add_argument("frame_b")
    ap.add_argument("--out", help="directory for the .npy results (default: new temp dir)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="peer_out_"))
    out.mkdir(parents=True, exist_ok=True)
    a, b = np.load(args.frame_a), np.load(args.frame_b)
    # Keep stdout for the JSON line only: send fd 1 (Python and C prints) to stderr.
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    report = measure(args.peer, a, b, out)
    sys.stdout.flush()
    json_out.write(json.dumps(report) + "\n")
    json_out.flush()


if __name__ == "__main__":
    main()
