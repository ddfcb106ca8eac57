"""The pitch benchmark's own parts: the truth it renders and the scores it gives can be trusted,
and the command runs (a short clip; the full run is `timbrel bench pitch`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from timbrel.training import pitch_bench as bench
from timbrel.training.soundfont import SOUNDFONT_CANDIDATES

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not any(Path(p).exists() for p in SOUNDFONT_CANDIDATES),
    reason="fluidsynth and FluidR3_GM.sf2 are needed (make setup installs them)")

CELLO = next(i for i in bench.INSTRUMENTS if i.name == "cello")


@pytest.fixture(scope="module")
def clip():
    return bench.render_clip(CELLO, "FluidR3", seconds=8.0)


def test_the_clip_has_voiced_unvoiced_and_left_out_truth(clip):
    assert set(np.unique(clip.state)) == {-1, 0, 1}
    voiced = clip.state == 1
    assert np.isfinite(clip.pitch[voiced]).all()
    assert CELLO.low - 2.5 <= np.nanmin(clip.pitch[voiced]) and np.nanmax(clip.pitch[voiced]) <= CELLO.high + 2.5
    # Noise fills the rests: unvoiced truth is not digital silence.
    assert np.abs(clip.audio[clip.state == 0]).max() > 0


def test_without_noise_the_clip_is_the_instrument_alone(clip):
    # What eval's foreign tracking plays into a model: the same notes, silent rests.
    alone = bench.render_clip(CELLO, "FluidR3", seconds=8.0, noise=False)
    np.testing.assert_array_equal(alone.state, clip.state)
    rests = clip.state == 0  # silence and the last of release tails (below -50 dB)
    rms = lambda x: float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert rms(alone.audio[rests]) < 0.1 * rms(clip.audio[rests])
    notes = clip.state == 1
    np.testing.assert_array_equal(alone.audio[notes], clip.audio[notes])


def truth_estimator(clip, shift: float = 0.0, voicing: float | None = None):
    def estimate(audio):
        centres = np.arange(0, len(audio), bench.HOP)
        pitch = np.nan_to_num(clip.pitch[centres], nan=60.0) + shift
        voiced = (clip.state[centres] == 1).astype(float) if voicing is None else np.full(len(centres), voicing)
        return centres, pitch, voiced
    return estimate


def test_scores_tell_right_from_octave_errors_and_false_alarms(clip):
    reach = 4096 / bench.SAMPLE_RATE
    right = bench.score(clip, truth_estimator(clip)(clip.audio), reach)
    assert right["raw_pitch"] == 1.0 and right["octave_errors"] == 0.0
    assert right["voicing_recall"] == 1.0 and right["voicing_false_alarm"] == 0.0
    octave = bench.score(clip, truth_estimator(clip, shift=12.0)(clip.audio), reach)
    assert octave["raw_pitch"] == 0.0 and octave["raw_chroma"] == 1.0 and octave["octave_errors"] == 1.0
    fifth = bench.score(clip, truth_estimator(clip, shift=7.0)(clip.audio), reach)
    assert fifth["raw_chroma"] == 0.0 and fifth["octave_errors"] == 0.0
    always = bench.score(clip, truth_estimator(clip, voicing=1.0)(clip.audio), reach)
    assert always["voicing_false_alarm"] == 1.0


def test_the_command_prints_and_writes_the_figures(tmp_path):
    out = tmp_path / "pitch.json"
    model = Path(__file__).resolve().parents[2] / "models" / "violin.ts"
    result = subprocess.run([sys.executable, "-m", "timbrel", "bench", "pitch", str(model), "--instruments",
                             "contrabass", "--soundfonts", "FluidR3", "--seconds", "6", "--no-pyin", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("contrabass") and "met on 1 of 1 instruments" in result.stdout
    written = json.loads(out.read_text())
    figures = written["results"]["contrabass"]["timbrel"]
    assert 0.0 <= figures["raw_pitch"] <= 1.0 and figures["voiced_frames"] > 100
    assert "violin" in written["results"]["contrabass"]
    # The model's analysis cost per hop, beside the first shipped analysis at the same hop.
    cost = written["analysis_cost"]["violin"]
    assert cost["hop"] == 512 and cost["model_us"] > 0 and cost["legacy_us"] > 0
    assert "violin: analysis" in result.stdout
