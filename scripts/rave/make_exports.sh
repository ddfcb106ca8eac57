#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Make small, real RAVE TorchScript exports (nn~ format) for Timbrel's tests.
#
#   bash scripts/rave/make_exports.sh OUTDIR
#
# 1. creates / reuses .venv-rave (torch 2.13.0 + acids-rave 2.3.1; reinstalled only
#    when the pins below or requirements.txt change: stamp file .venv-rave/.timbrel-rave-stamp)
# 2. runs make_exports.py all OUTDIR: untrained, seeded RAVE models from RAVE's gin
#    configs, exported by RAVE's own export code (one of them with an untrained prior,
#    rave_prior_streaming.ts, see README.md), then OUTDIR/exports.json
#
# Env: RAVE_VENV (default <repo>/.venv-rave), RAVE_PYTHON (default python3.11).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUTDIR=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${RAVE_VENV:-$ROOT/.venv-rave}
PY=${RAVE_PYTHON:-python3.11}
# installed with --no-deps after requirements.txt (see the comment there)
NODEPS_PINS="acids-rave==2.3.1 torchaudio==2.11.1"

PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$PYVER" != "3.11" ]; then
    echo "make_exports.sh: needs Python 3.11 (scipy 1.10.0 wheels), $PY is $PYVER" >&2
    exit 1
fi

STAMP_WANT="python=$PYVER nodeps=[$NODEPS_PINS] strip-torchaudio-so=1 req=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
STAMP="$VENV/.timbrel-rave-stamp"

t0=$(date +%s)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_WANT" ] && [ -x "$VENV/bin/python" ]; then
    echo "== .venv-rave up to date ($VENV)"
else
    echo "== installing $VENV"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$HERE/requirements.txt"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps $NODEPS_PINS
    # PyPI's torchaudio wheels are CUDA builds whose native libraries need libc10_cuda.so;
    # without them torchaudio imports as pure Python (_IS_TORCHAUDIO_EXT_AVAILABLE=False).
    TA=$("$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("torchaudio").origin))')
    rm -f "$TA"/lib/*.so
    "$VENV/bin/python" - <<'EOF'
import warnings
warnings.simplefilter("ignore")
import torch, torchaudio, rave, nn_tilde, cached_conv
assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
print("torch", torch.__version__, "torchaudio", torchaudio.__version__,
      "rave", __import__("rave.version").version.__version__)
EOF
    echo "$STAMP_WANT" > "$STAMP"
fi
t1=$(date +%s)
echo "== venv: $((t1 - t0)) s"

"$VENV/bin/python" "$HERE/make_exports.py" all "$OUTDIR"
t2=$(date +%s)
echo "== exports + exports.json: $((t2 - t1)) s"
