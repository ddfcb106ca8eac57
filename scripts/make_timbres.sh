#!/usr/bin/env bash
# The many-instrument model (issue 17), in resumable pieces: the labelled data of 16 instruments
# from FluidR3 and MuseScore General (MuseScore held out for 8 of them: the soundfont each of
# those instruments is measured on without having been learnt from it) -> train -> export with
# its named timbres, latent axes and natural() -> eval (timbre recognition on valid/ and heldout/).
#   scripts/make_timbres.sh PYTHON [train|export]        (default: train, then export when done)
# `train` runs for TIMBRES_MINUTES (default 60) and stops; run it again to continue from the last
# checkpoint until TIMBRES_STEPS. The run is 1 thread; the card records minutes and hardware.
set -euo pipefail
py=${1:?usage: make_timbres.sh PYTHON [train|export]}
what=${2:-all}
cd "$(dirname "$0")/.."
data=runs/data/timbres
run=runs/timbres-a
steps=${TIMBRES_STEPS:-30000}
minutes=${TIMBRES_MINUTES:-60}

[ -f "$data/dataset.json" ] || "$py" -m timbrel dataset timbres --minutes 4 --out "$data" \
  --hold-out viola contrabass flute clarinet "alto sax" horn tuba "male voice"

if [ "$what" != export ]; then
  resume=()
  [ -f "$run/checkpoint.pt" ] && resume=(--resume)
  # KL 0.005: in 6000-step pilots it reconstructed better than the default 0.02 (validation
  # spectral loss 3.73 against 4.01) and recognised valid/ better (0.875 against 0.79), the
  # held-out soundfont worse (0.63 against 0.83). Not settled: see the issue's notes.
  "$py" -m timbrel train "$data" --config timbres --kl-weight 0.005 --out "$run" --steps "$steps" \
    --max-minutes "$minutes" --threads 1 --quiet "${resume[@]}"
fi
if [ "$what" != train ]; then
  "$py" -m timbrel export "$run" --out runs/timbres.ts --name timbres --instrument "16 instruments" \
    --timbres "$data" --source runs/timbres.pt
  "$py" -m timbrel eval runs/timbres.ts "$data" --out "$run/eval" --card
fi
