#!/usr/bin/env bash
# Reproduces the shipped models from scratch: FluidR3 data -> train -> fine-tune with the
# descriptor tracking term -> export -> eval + card.
#   scripts/make_models.sh PYTHON [NAME ...]      (make models runs it for every model)
# Each run trains on one CPU thread; MODELS_JOBS runs (default: the number of cores) go side by
# side. A run folder that already has a checkpoint is resumed, so an interrupted `make models`
# continues where it stopped. Budgets: MODELS_STEPS steps or MODELS_MINUTES minutes for the
# first stage, then TUNE_MINUTES minutes of fine-tuning (the recipe's last column; 0 skips it);
# the cards record what each run used.
set -euo pipefail
py=${1:?usage: make_models.sh PYTHON [NAME ...]}
shift
cd "$(dirname "$0")/.."
steps=${MODELS_STEPS:-3000}
minutes=${MODELS_MINUTES:-45}
jobs=${MODELS_JOBS:-$(nproc)}

# name instrument config tune-minutes: the recipe of every shipped model. The low-latency violin
# met its tracking targets after the first stage, so it is not fine-tuned.
recipes=(
  "violin violin default 15"
  "flute flute default 15"
  "choir choir default 15"
  "violin-lowlatency violin lowlatency 0"
)

one() {
  local name=$1 instrument=$2 config=$3 tune=$4
  local data=runs/data/$instrument run=runs/$name tuned=runs/$name-tuned
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
  "$py" -m timbrel export "$final" --out "models/$name.ts" --source "models/source/$name.pt"
  "$py" -m timbrel eval "models/$name.ts" "$data" --out "$final/eval" --card
}

wanted=("$@")
running=0
for recipe in "${recipes[@]}"; do
  read -r name instrument config tune <<<"$recipe"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  one "$name" "$instrument" "$config" "$tune" > "runs/$name.log" 2>&1 &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || { echo "make_models: a run failed; see runs/NAME.log" >&2; exit 1; }
    running=$((running - 1))
  fi
done
failed=0
for pid in $(jobs -p); do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { echo "make_models: a run failed; see runs/NAME.log" >&2; exit 1; }
echo "models: $(ls models/*.ts | tr '\n' ' ')"
