"""timbrel.training: from audio to a checked model file with a card.

- soundfont:  FluidR3 renders of generated MIDI (training data and the fixed regression phrase)
- dataset:    `timbrel dataset` (fluidr3, or a folder of the user's recordings)
- data:       the splits, descriptor ranges, augmented excerpts and validation excerpts
- losses:     the objective's terms (spectral, Fader adversary, descriptor tracking)
- loop:       `timbrel train`: the Trainer (setup and resume, one step, validation, checkpoints)
- export:     `timbrel export`: a run or a source checkpoint to a model file
- evaluate:   `timbrel eval`: metrics on held-out audio
- card:       the card embedded at export and the MODEL.json / MODEL.md written by eval

Imports timbrel.format and timbrel.models, never hosts.
"""
