#!/usr/bin/env bash
# Create the two peer venvs used by bench/peers/one_peer.py (idempotent).
#   .bench-venv-rust       Python 3.11 + openpiv==0.26.1 + openpiv-rust
#   .bench-venv-pivtools   Python 3.12 (pyenv) + pivtools 0.7.x
# They are separate from .venv on purpose: openpiv-rust changes OpenPIV's
# default backend, so it must never be installed into the project venv.
# Usage: bash bench/peers/setup.sh   (from anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
step() { echo "==> $*"; }

# make_venv DIR PYTHON: create DIR with PYTHON unless it already works.
make_venv() {
    local dir="$1" py="$2"
    if [[ -x "$dir/bin/python" ]] && "$dir/bin/python" -c 'import sys' 2>/dev/null; then
        step "$dir exists ($("$dir/bin/python" -V))"
    else
        step "creating $dir with $py ($("$py" -V))"
        rm -rf "$dir"
        "$py" -m venv "$dir" || die "cannot create $dir with $py"
    fi
}

# pip_install DIR PKG...: install PKGs into the venv DIR.
pip_install() {
    local dir="$1"; shift
    step "$dir: pip install $*"
    "$dir/bin/python" -m pip install --quiet "$@" \
        || die "pip install $* failed in $dir"
}

find_python312() {
    local root
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    local cand
    cand="$(ls -d "$root"/versions/3.12.* 2>/dev/null | sort -V | tail -n1 || true)"
    if [[ -z "$cand" ]] && command -v pyenv >/dev/null; then
        step "pyenv has no 3.12; trying: pyenv install 3.12" >&2
        pyenv install -s 3.12 >&2 || die "pyenv install 3.12 failed"
        cand="$(ls -d "$root"/versions/3.12.* 2>/dev/null | sort -V | tail -n1 || true)"
    fi
    [[ -x "$cand/bin/python3.12" ]] || die "no Python 3.12 found (pyenv root: $root)"
    echo "$cand/bin/python3.12"
}

# Keep the venvs out of git.
if ! git check-ignore -q .bench-venv-rust/ 2>/dev/null; then
    step "adding .bench-venv-*/ to .gitignore"
    echo '.bench-venv-*/' >> .gitignore
fi

# 1. OpenPIV with the Rust backend (Python 3.11).
PY311="$(command -v python3.11 || true)"
[[ -n "$PY311" ]] || die "python3.11 not found"
make_venv .bench-venv-rust "$PY311"
pip_install .bench-venv-rust "openpiv==0.26.1" openpiv-rust numpy scipy imageio tifffile
step "checking that OpenPIV sees openpiv_rust"
.bench-venv-rust/bin/python -c 'import openpiv_rust, openpiv; print("  openpiv", openpiv.__version__, "+ openpiv_rust OK")' \
    || die "openpiv_rust does not import in .bench-venv-rust"

# 2. PIVTOOLs (needs Python >= 3.12).
make_venv .bench-venv-pivtools "$(find_python312)"
pip_install .bench-venv-pivtools "pivtools>=0.7,<0.8" numpy pyyaml
step "checking pivtools imports"
.bench-venv-pivtools/bin/python -c 'from pivtools_cli.piv.piv_backend.cpu_instantaneous import InstantaneousCorrelatorCPU; from pivtools_core.config import Config; print("  pivtools OK")' \
    || die "pivtools does not import in .bench-venv-pivtools"

step "done"
