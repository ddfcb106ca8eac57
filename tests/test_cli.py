"""`timbrel render` and `timbrel check` as a user runs them (subprocesses, real files)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import SAMPLE_RATE, make_signal


def timbrel(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "timbrel", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture
def input_wav(tmp_path):
    path = tmp_path / "in.wav"
    sf.write(path, make_signal(2).T, SAMPLE_RATE, subtype="FLOAT")
    return path


@pytest.mark.parametrize("host", ["dawdreamer", "pedalboard"])
def test_render_writes_the_plugin_output(tmp_path, input_wav, test_model, reference, host):
    out = tmp_path / f"out-{host}.wav"
    result = timbrel("render", input_wav, out, "--model", test_model, "--host", host, "--set", "loudness_shift=-6")
    assert result.returncode == 0, result.stderr
    assert "timbrel-test" in result.stdout
    rendered, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE
    audio = make_signal(2)
    assert rendered.shape == audio.T.shape
    stream = reference.model_stream(audio, {"loudness": -6.0})
    delay = reference.info.latency_samples
    usable = audio.shape[1] - delay
    assert np.abs(rendered.T[:, :usable] - stream[:, delay:]).max() <= 1e-5


def test_render_mono_file_stays_mono(tmp_path, test_model):
    source = tmp_path / "mono.wav"
    sf.write(source, make_signal(1)[0], SAMPLE_RATE)
    out = tmp_path / "mono-out.wav"
    result = timbrel("render", source, out, "--model", test_model)
    assert result.returncode == 0, result.stderr
    assert sf.info(out).channels == 1


def test_render_reports_a_broken_model_and_writes_nothing(tmp_path, input_wav, models_dir):
    out = tmp_path / "out.wav"
    result = timbrel("render", input_wav, out, "--model", models_dir / "broken" / "truncated.ts")
    assert result.returncode == 2
    assert "not a readable TorchScript model" in result.stderr
    assert not out.exists()


def test_render_at_another_sample_rate_resamples_around_the_model(tmp_path, models_dir):
    # The identity model makes the plugin a pure (compensated) delay: at 48 kHz what comes
    # back is the input itself, so resampling in and out again is transparent and aligned.
    source = tmp_path / "48k.wav"
    t = np.arange(48000) / 48000
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    sf.write(source, np.stack([audio, audio]).T, 48000, subtype="FLOAT")
    out = tmp_path / "out.wav"
    result = timbrel("render", source, out, "--model", models_dir / "timbrel-identity.ts")
    assert result.returncode == 0, result.stderr
    rendered, rate = sf.read(out, dtype="float32", always_2d=True)
    assert rate == 48000
    # (the last samples meet the end of the file, which the resampler smooths like any edge)
    assert np.abs(rendered[4800:-200, 0] - audio[4800:-200]).max() < 1e-3


def test_render_rejects_unknown_parameters_and_missing_files(tmp_path, input_wav):
    result = timbrel("render", input_wav, tmp_path / "out.wav", "--set", "warmth=3")
    assert result.returncode != 0 and "unknown parameter 'warmth'" in result.stderr
    result = timbrel("render", tmp_path / "nope.wav", tmp_path / "out.wav")
    assert result.returncode == 2 and "input file not found" in result.stderr


def test_check_accepts_the_test_model_and_names_the_broken_field(test_model, models_dir):
    ok = timbrel("check", test_model)
    assert ok.returncode == 0 and "conforms to model format 1" in ok.stdout
    bad = timbrel("check", models_dir / "broken" / "unit-mismatch.ts")
    assert bad.returncode == 2 and "descriptor_units[0]" in bad.stderr
