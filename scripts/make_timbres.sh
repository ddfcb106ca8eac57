#!/usr/bin/env bash
# The many-instrument model (issue 17), in resumable pieces: the labelled data of 16 instruments
# from FluidR3 and MuseScore General (MuseScore held out for 8 of them: the soundfont each of
# those instruments is measured on without having been learnt from it) -> train -> fine-tune
# with the timbre term -> export with its named timbres, latent axes and natural() -> eval.
#   scripts/make_timbres.sh PYTHON [train|finetune|identity|export]   (default: all four in turn)
# Each training stage runs for at most TIMBRES_MINUTES (default 60) per call and stops; call it
# again to continue from the last checkpoint. Runs are 1 thread; the card records minutes and
# hardware of both stages.
set -euo pipefail
py=${1:?usage: make_timbres.sh PYTHON [train|finetune|identity|export]}
what=${2:-all}
cd "$(dirname "$0")/.."
data=runs/data/timbres
base=runs/timbres-a
stage2=runs/timbres-ft1
run=runs/timbres-id
minutes=${TIMBRES_MINUTES:-60}

[ -f "$data/dataset.json" ] || "$py" -m timbrel dataset timbres --minutes 4 --out "$data" \
  --hold-out viola contrabass flute clarinet "alto sax" horn tuba "male voice"

if [ "$what" = all ] || [ "$what" = train ]; then
  resume=() # --resume once the run folder has a checkpoint (make timbres runs an hour at a time)
  if [ -f "$base/checkpoint.pt" ]; then resume=(--resume); fi
  # Stage 1, the Fader model alone. KL 0.005: in 6000-step pilots it reconstructed better than
  # the default 0.02 (validation spectral loss 3.73 against 4.01). The shipped model's stage 1
  # was stopped at 11531 steps (42.5 minutes); TIMBRES_STEPS sets the budget.
  "$py" -m timbrel train "$data" --config timbres --kl-weight 0.005 --out "$base" \
    --steps "${TIMBRES_STEPS:-11531}" --max-minutes "$minutes" --threads 1 --quiet "${resume[@]}"
fi
if [ "$what" = all ] || [ "$what" = finetune ]; then
  # Stage 2, the timbre term (losses.TimbreCentres): each excerpt's mean z nearest its own
  # instrument's centre. Without it, a clip's mean z was nearest its own instrument's named
  # timbre for 58-88% of clips; with it, 100% (valid) and 94% (the held-out soundfont).
  if [ -f "$stage2/checkpoint.pt" ]; then
    "$py" -m timbrel train "$data" --out "$stage2" --resume --steps "${TIMBRES_FINETUNE_STEPS:-10000}" \
      --max-minutes "$minutes" --threads 1 --quiet
  else
    "$py" -m timbrel train "$data" --init "$base/best.pt" --kl-weight 0.005 --timbre-weight 1 \
      --learning-rate 3e-4 --out "$stage2" --steps "${TIMBRES_FINETUNE_STEPS:-10000}" --max-minutes "$minutes" \
      --threads 1 --quiet
  fi
fi
if [ "$what" = all ] || [ "$what" = identity ]; then
  # Stage 3, the snapshot and identity terms (losses.snapshot_loss, losses.InstrumentJudge): the
  # decoder plays each instrument from its still named timbre, and its outputs are named as their
  # instrument by a judge of the real excerpts. Before it, the model's own reconstructions of
  # held-out violin, viola, bassoon, alto sax and choir clips were heard as trumpet or trombone.
  # Stage 2's last checkpoint (models/source/timbres.pt) is where it starts.
  start=${TIMBRES_STAGE3_INIT:-$stage2/checkpoint.pt}
  if [ -f "$run/checkpoint.pt" ]; then
    "$py" -m timbrel train "$data" --out "$run" --resume --steps "${TIMBRES_STAGE3_STEPS:-6000}" \
      --max-minutes "$minutes" --threads 1 --quiet
  else
    "$py" -m timbrel train "$data" --init "$start" --kl-weight 0.005 --timbre-weight 1 --snapshot-weight 1 \
      --identity-weight "${TIMBRES_IDENTITY_WEIGHT:-1}" --learning-rate 3e-4 --out "$run" \
      --steps "${TIMBRES_STAGE3_STEPS:-6000}" --max-minutes "$minutes" --threads 1 --quiet
  fi
fi
if [ "$what" = all ] || [ "$what" = export ]; then
  # The last checkpoint: best.pt is chosen by the validation spectral loss alone, which none of
  # the timbre, snapshot or identity terms enter (it kept an earlier, worse-transferring step).
  "$py" -m timbrel export "$run" --last --out runs/timbres.ts --name timbres --instrument "16 instruments" \
    --description "One model, sixteen instruments: strings, woodwinds, brass and voices from FluidR3 and MuseScore General, each a named timbre to play, morph between or capture from your own input" \
    --timbres "$data" --source runs/timbres.pt
  "$py" -m timbrel eval runs/timbres.ts "$data" --out "$run/eval" --card \
    --single violin=models/violin.ts --single flute=models/flute.ts --single choir=models/choir.ts
fi
