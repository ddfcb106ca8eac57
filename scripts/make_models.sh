#!/usr/bin/env bash
# Reproduces the shipped models from scratch: FluidR3 data -> train -> fine-tune with the
# descriptor tracking term -> fine-tune with other instruments' audio too -> export -> eval + card.
#   scripts/make_models.sh PYTHON [NAME ...]      (make models runs it for every model)
# Each run trains on one CPU thread; MODELS_JOBS runs (default: the number of cores) go side by
# side. A run folder that already has a checkpoint is resumed, so an interrupted `make models`
# continues where it stopped. Budgets: MODELS_STEPS steps or MODELS_MINUTES minutes for the
# first stage, then the recipe's minutes of fine-tuning with the tracking term (0 skips it), then
# its minutes with the foreign term (0 skips it); the cards record what each run used.
set -euo pipefail
py=${1:?usage: make_models.sh PYTHON [NAME ...]}
shift
cd "$(dirname "$0")/.."
steps=${MODELS_STEPS:-3000}
minutes=${MODELS_MINUTES:-45}
jobs=${MODELS_JOBS:-$(nproc)}

# name instrument config tune-minutes foreign-minutes: the recipe of every shipped model. The
# low-latency violin met its tracking targets after the first stage, so its second stage is
# skipped. The third stage adds the tracking term on other instruments' audio (transposed into
# the model's range) and the pitch clarity term, so the faders hold when other sounds play in.
recipes=(
  "violin violin default 15 20"
  "flute flute default 15 20"
  "choir choir default 15 20"
  "violin-lowlatency violin lowlatency 0 20"
)
foreign=runs/data/foreign

one() {
  local name=$1 instrument=$2 config=$3 tune=$4 foreign_minutes=$5
  local data=runs/data/$instrument run=runs/$name tuned=runs/$name-tuned third=runs/$name-foreign
  [ -f "$data/dataset.json" ] || "$py" -m timbrel dataset fluidr3 --instrument "$instrument" --minutes 12 --out "$data"
  local resume=()
  [ -f "$run/checkpoint.pt" ] && resume=(--resume)
  "$py" -m timbrel train "$data" --config "$config" --out "$run" --steps "$steps" --max-minutes "$minutes" \
    --threads 1 --quiet "${resume[@]}"
  local final=$run
  if [ "$tune" != 0 ]; then
    # Stage 2: the descriptor tracking term (faders do what they say) and the adversary at full
    # weight, from the first stage's best weights.
    local start=(--init "$run/best.pt")
    [ -f "$tuned/checkpoint.pt" ] && start=(--resume)
    "$py" -m timbrel train "$data" --out "$tuned" "${start[@]}" --steps 1700 --max-minutes "$tune" \
      --learning-rate 3e-4 --tracking-weight 2 --fader-weight 1 --threads 1 --quiet
    final=$tuned
  fi
  if [ "$foreign_minutes" != 0 ]; then
    # Stage 3: other instruments' audio; only the decoder learns, so z holds what it held.
    local start=(--init "$final/best.pt")
    [ -f "$third/checkpoint.pt" ] && start=(--resume)
    "$py" -m timbrel train "$data" --out "$third" "${start[@]}" --steps 1700 --max-minutes "$foreign_minutes" \
      --learning-rate 3e-4 --tracking-weight 2 --freeze-encoder --foreign-data "$foreign" --foreign-weight 2 \
      --clarity-weight 4 --threads 1 --quiet
    final=$third
  fi
  "$py" -m timbrel export "$final" --out "models/$name.ts" --source "models/source/$name.pt" --timbres "$data"
  "$py" -m timbrel eval "models/$name.ts" "$data" --out "$final/eval" --card
}

# --noise: the shipped models' third stage had the pitch benchmark's breath noise between
# phrases (the default since is the instruments alone; untried for training).
[ -f "$foreign/dataset.json" ] || "$py" -m timbrel dataset melodies --instruments viola contrabass "electric bass" \
  horn trombone tuba "male voice" --soundfonts FluidR3 MuseScore --seconds 60 --noise --out "$foreign"

wanted=("$@")
running=0
for recipe in "${recipes[@]}"; do
  read -r name instrument config tune foreign_minutes <<<"$recipe"
  if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  one "$name" "$instrument" "$config" "$tune" "$foreign_minutes" > "runs/$name.log" 2>&1 &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || { echo "make_models: a run failed; see runs/NAME.log" >&2; exit 1; }
    running=$((running - 1))
  fi
done
failed=0
for pid in $(jobs -p); do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { echo "make_models: a run failed; see runs/NAME.log" >&2; exit 1; }
echo "models: $(printf '%s ' models/*.ts)"
