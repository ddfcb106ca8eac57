#!/usr/bin/env bash
# Reproduces the shipped models from scratch: FluidR3 data -> train -> export -> eval + card.
#   scripts/make_models.sh PYTHON [NAME ...]      (make models runs it for every model)
# Each run trains on one CPU thread; MODELS_JOBS runs (default: the number of cores) go side by
# side. A run folder that already has a checkpoint is resumed, so an interrupted `make models`
# continues where it stopped. Budgets: MODELS_STEPS steps or MODELS_MINUTES minutes per model,
# whichever comes first (the cards record what each run used).
set -euo pipefail
py=${1:?usage: make_models.sh PYTHON [NAME ...]}
shift
cd "$(dirname "$0")/.."
steps=${MODELS_STEPS:-3000}
minutes=${MODELS_MINUTES:-45}
jobs=${MODELS_JOBS:-$(nproc)}

# name instrument config: the recipe of every shipped model.
recipes=(
  "violin violin default"
  "flute flute default"
  "choir choir default"
  "violin-lowlatency violin lowlatency"
)

one() {
  local name=$1 instrument=$2 config=$3
  local data=runs/data/$instrument run=runs/$name
  [ -f "$data/dataset.json" ] || "$py" -m timbrel dataset fluidr3 --instrument "$instrument" --minutes 12 --out "$data"
  local resume=()
  [ -f "$run/checkpoint.pt" ] && resume=(--resume)
  "$py" -m timbrel train "$data" --config "$config" --out "$run" --steps "$steps" --max-minutes "$minutes" \
    --threads 1 --quiet "${resume[@]}"
  "$py" -m timbrel export "$run" --out "models/$name.ts"
  "$py" -m timbrel eval "models/$name.ts" "$data" --out "$run/eval" --card
}

wanted=("$@")
running=0
for recipe in "${recipes[@]}"; do
  read -r name instrument config <<<"$recipe"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  one "$name" "$instrument" "$config" > "runs/$name.log" 2>&1 &
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
