"""`make bench-synth`'s bookkeeping (timbrel_tools.synth_eval; the renders themselves need the
built plugin and minutes: make bench-synth runs them): melody ranges within the model's, the truth a melody gives, and
the verdict on a report."""

import numpy as np
import pytest

from timbrel_tools import synth_eval
from timbrel.training.pitch_bench import SAMPLE_RATE


def test_melodies_stay_inside_the_models_pitch_range():
    flute = synth_eval.BY_NAME["flute"]
    narrowed = synth_eval.playable(flute, 59.4, 91.1)
    assert (narrowed.low, narrowed.high) == (61, 90)
    for index in range(5):
        notes = synth_eval.melody(narrowed, index, 6.0).notes
        assert all(61 <= n["pitch"] <= 90 for n in notes)
    with pytest.raises(ValueError, match="too little"):
        synth_eval.playable(flute, 20.0, 62.0)


def test_a_melodys_truth_marks_its_notes_and_leaves_the_rest_out():
    melody = synth_eval.Melody([{"start": 0.5, "duration": 1.0, "pitch": 69, "velocity": 90, "bend": None}], 2.0)
    pitch, state, boundaries = melody.truth()
    inside = slice(int(0.5 * SAMPLE_RATE), int(1.5 * SAMPLE_RATE))
    assert (state[inside] == 1).all() and np.allclose(pitch[inside], 69.0)
    assert (state[: int(0.5 * SAMPLE_RATE)] == -1).all() and (state[int(1.5 * SAMPLE_RATE) + 1:] == -1).all()
    assert list(boundaries) == [int(0.5 * SAMPLE_RATE), int(1.5 * SAMPLE_RATE)]


def _result(raw_pitch: float, recognised: float) -> dict:
    return {"pitch": {"raw_pitch": raw_pitch, "raw_chroma": raw_pitch, "octave_errors": 0.0, "voiced_frames": 100},
            "recognised": recognised, "named_as": []}


def test_the_verdict_needs_six_timbres_and_every_single_model():
    good, bad_pitch, bad_name = _result(0.99, 1.0), _result(0.9, 1.0), _result(1.0, 0.5)
    many = {f"t{k}": good for k in range(6)} | {"x": bad_pitch}
    report = {"results": {"timbres": many, "violin": {"violin": good}}}
    assert synth_eval.summary(report)[-1] == ("targets: 6 named timbres of timbres: met; every single-instrument "
                                              "model measured (violin): met")
    report["results"]["timbres"] = {f"t{k}": good for k in range(5)} | {"x": bad_name}
    report["results"]["flute"] = {"flute": bad_name}
    verdict = synth_eval.summary(report)[-1]
    assert "timbres: NOT met" in verdict and "NOT met (flute)" in verdict
