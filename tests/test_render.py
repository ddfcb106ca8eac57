"""`timbrel render` beyond one file with fixed settings: parameters discovered from the plugin,
automation curves (DawDreamer), and folders. Real plugin, real hosts, real files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import SAMPLE_RATE, make_signal
from timbrel.format.vocabulary import VOCABULARY
from timbrel.hosts import DawDreamerHost, PedalboardHost, check_parameter_id, parameter_id
from timbrel.hosts.render import AUTOMATION_BLOCK, PLAIN_BLOCK, Renderer, curve_samples, parse_curve, render_file


def timbrel(*args):
    return subprocess.run([sys.executable, "-m", "timbrel", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def tone(seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.stack([0.3 * np.sin(2 * np.pi * (220 + 55 * ch) * t) for ch in range(channels)]).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2))


# --- parameters -------------------------------------------------------------------------------

def test_both_hosts_discover_the_same_parameters_named_by_convention(plugin_path):
    pedalboard = PedalboardHost(plugin_path)
    dawdreamer = DawDreamerHost(plugin_path, sample_rate=SAMPLE_RATE)
    assert set(pedalboard.parameters) == set(dawdreamer.parameters)
    # No two parameters collapse onto one ID (the hosts keep the first of a duplicate).
    assert len(dawdreamer.processor.get_parameters_description()) == len(dawdreamer.parameters)
    assert len(pedalboard.plugin.parameters) == len(pedalboard.parameters)
    for host in (pedalboard, dawdreamer):
        for pid, parameter in host.parameters.items():
            assert pid == parameter.name.lower().replace(" ", "_") == parameter_id(parameter.name)
            assert check_parameter_id(pid) == pid
    shifts = {f"{name}_shift" for name in VOCABULARY}
    assert {"mix", "output_gain", "bypass"} | shifts <= set(dawdreamer.parameters)
    # Both hosts read the same kind, range and choices.
    for pid, parameter in pedalboard.parameters.items():
        other = dawdreamer.parameters[pid]
        assert (parameter.kind, parameter.choices) == (other.kind, other.choices), pid
        assert (parameter.minimum, parameter.maximum) == pytest.approx((other.minimum, other.maximum)), pid
    assert dawdreamer.parameters["bypass"].kind == "bool"
    assert dawdreamer.parameters["output_gain"].unit == "dB"


def test_discrete_parameters_take_their_text_in_both_hosts(plugin_path):
    """bool and choice parameters set by text (any case) or index read back as the plugin's own
    text; DawDreamer's text comes from the plugin, so a wrong normalisation shows."""
    pedalboard = PedalboardHost(plugin_path)
    dawdreamer = DawDreamerHost(plugin_path, sample_rate=SAMPLE_RATE)
    discrete = [p for p in dawdreamer.parameters.values() if p.kind in ("bool", "choice")]
    assert discrete, "bypass at least"
    for parameter in discrete:
        texts = parameter.choices or ("Off", "On")
        for index, text in reversed(list(enumerate(texts))):
            for value in (text.upper(), index):
                dawdreamer.set(parameter.id, value)
                pedalboard.set(parameter.id, value)
                assert dawdreamer.text(parameter.id).strip() == text
                expected = text if parameter.kind == "choice" else float(index)
                assert dawdreamer.get(parameter.id) == expected
                assert pedalboard.get(parameter.id) == expected
        with pytest.raises(ValueError, match=parameter.id):
            dawdreamer.set(parameter.id, "no such choice")
        with pytest.raises(ValueError, match=parameter.id):
            pedalboard.set(parameter.id, "no such choice")


def test_unknown_and_out_of_range_values_are_refused(plugin_path):
    host = DawDreamerHost(plugin_path, sample_rate=SAMPLE_RATE)
    with pytest.raises(KeyError, match="unknown parameter 'warmth'.*output_gain"):
        host.set("warmth", 1.0)
    with pytest.raises(ValueError, match=r"output_gain: 30 is outside -24\.\.24 dB"):
        host.set("output_gain", 30)
    with pytest.raises(ValueError, match="output_gain"):
        host.automate("output_gain", np.array([0.0, 40.0]))
    with pytest.raises(ValueError, match="not a parameter ID.*output_gain"):
        check_parameter_id("Output Gain")


# --- curves -----------------------------------------------------------------------------------

def test_inline_and_csv_curves_parse_to_the_same_breakpoints(tmp_path):
    inline = parse_curve("0:0, 2:12,4:-12")
    csv = tmp_path / "gain.csv"
    csv.write_text("time_seconds,value\n# a comment\n0,0\n2, 12\n\n4,-12\n")
    no_header = tmp_path / "plain.csv"
    no_header.write_text("0,0\n2,12\n4,-12\n")
    for times, values in (inline, parse_curve(csv), parse_curve(str(no_header))):
        assert times.tolist() == [0.0, 2.0, 4.0]
        assert values.tolist() == [0.0, 12.0, -12.0]
    times, values = parse_curve("0:Input,1.5:sidechain")
    assert times.tolist() == [0.0, 1.5] and values.tolist() == ["Input", "sidechain"]


def test_curve_samples_interpolate_and_hold():
    rate = 10
    times, values = parse_curve("1:0,2:10,3:-10")
    out = curve_samples(times, values, rate, 40)
    assert out[:10].tolist() == [0.0] * 10                         # held before the first
    assert out[15] == pytest.approx(5.0) and out[25] == pytest.approx(0.0)   # linear
    assert out[30:].tolist() == [-10.0] * 10                       # held after the last
    stepped = curve_samples(times, values, rate, 40, stepped=True)
    assert stepped[19] == 0.0 and stepped[20] == 10.0 and stepped[29] == 10.0 and stepped[30] == -10.0
    # Two breakpoints at one time make a jump.
    jump = curve_samples(*parse_curve("0:100,1:100,1:0"), rate, 20)
    assert jump[9] == 100.0 and jump[10] == 0.0 and jump[19] == 0.0
    assert curve_samples(*parse_curve("0.5:-6"), rate, 5).tolist() == [-6.0] * 5


@pytest.mark.parametrize("text, message", [
    ("0:0,2", "breakpoint 2 '2' is not TIME:VALUE"),
    ("0:0,x:3", "time 'x' is not a number"),
    ("0:0,1:", "empty value"),
    ("2:0,1:5", "times must not go backwards"),
    ("curves/missing.csv", "automation curve file not found"),
    ("12", "neither a curve file nor inline breakpoints"),
    ("", "empty automation curve"),
])
def test_bad_curves_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_curve(text)


def test_bad_csv_curves_name_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,value\n0,1\n1,2,3\n")
    with pytest.raises(ValueError, match=r"bad.csv line 3: expected time_seconds,value"):
        parse_curve(path)
    path.write_text("0,1\nsoon,2\n")
    with pytest.raises(ValueError, match=r"line 2: time 'soon' is not a number"):
        parse_curve(path)
    path.write_text("time,value\n")
    with pytest.raises(ValueError, match="no breakpoints"):
        parse_curve(path)


def test_cli_reports_bad_automation_before_rendering(tmp_path):
    source = tmp_path / "in.wav"
    sf.write(source, tone(0.2)[0], SAMPLE_RATE)
    bad = timbrel("render", source, tmp_path / "out.wav", "--automate", "output_gain=0:0,1")
    assert bad.returncode != 0 and "--automate output_gain: breakpoint 2 '1' is not TIME:VALUE" in bad.stderr
    pedalboard = timbrel("render", source, tmp_path / "out.wav", "--host", "pedalboard", "--automate", "mix=0:100")
    assert pedalboard.returncode == 2 and "--automate needs --host dawdreamer" in pedalboard.stderr
    unknown = timbrel("render", source, tmp_path / "out.wav", "--automate", "warmth=0:1")
    assert unknown.returncode == 2 and "unknown parameter 'warmth'" in unknown.stderr
    assert not (tmp_path / "out.wav").exists()


# --- automation through the plugin -------------------------------------------------------------

def test_automated_output_gain_follows_an_inline_curve(tmp_path, test_model):
    source, out = tmp_path / "tone.wav", tmp_path / "out.wav"
    sf.write(source, tone(2.0)[0], SAMPLE_RATE, subtype="FLOAT")
    result = timbrel("render", source, out, "--model", test_model, "--automate", "output_gain=0:0,0.6:0,1.4:-12")
    assert result.returncode == 0, result.stderr
    rendered, rate = sf.read(out, dtype="float32")
    assert rate == SAMPLE_RATE and rendered.shape == (2 * SAMPLE_RATE,)
    window = int(0.3 * SAMPLE_RATE)
    first, last = rms_db(rendered[:window]), rms_db(rendered[-window:])
    assert last - first == pytest.approx(-12.0, abs=1.0)
    # Half way along the ramp (1.0 s) the gain is -6 dB: interpolated, not stepped.
    middle = rendered[SAMPLE_RATE - 1024: SAMPLE_RATE + 1024]
    assert rms_db(middle) - first == pytest.approx(-6.0, abs=1.0)


def test_automated_mix_ends_on_the_aligned_dry_input(tmp_path, test_model):
    audio = make_signal(2, seconds=1.5)
    source, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(source, audio.T, SAMPLE_RATE, subtype="FLOAT")
    curve = tmp_path / "mix.csv"
    curve.write_text("time,value\n0,100\n0.5,100\n1.0,0\n")
    render_file(source, out, model=test_model, automation={"mix": curve})
    rendered = sf.read(out, dtype="float32", always_2d=True)[0].T
    assert rendered.shape == audio.shape
    tail = int(0.3 * SAMPLE_RATE)
    assert np.abs(rendered[:, -tail:] - audio[:, -tail:]).max() <= 1e-4
    # At the start the model is fully wet: not the input.
    assert np.abs(rendered[:, 5000:5000 + tail] - audio[:, 5000:5000 + tail]).max() > 0.05


def test_plain_renders_use_long_blocks_and_automated_ones_short(test_model):
    plain = Renderer(test_model).host_for(SAMPLE_RATE)
    automated = Renderer(test_model, automation={"mix": "0:100,1:0"}).host_for(SAMPLE_RATE)
    assert (plain.block_size, automated.block_size) == (PLAIN_BLOCK, AUTOMATION_BLOCK)
    # The plugin's Threaded worker gets a block of time: the reported latency follows the block.
    assert plain.latency > automated.latency


# --- folders ----------------------------------------------------------------------------------

def test_render_a_folder_mirrors_the_layout_and_skips_unreadable_files(tmp_path, test_model, reference):
    src, dst = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    mono, stereo, short = make_signal(1, 0.5, seed=3), make_signal(2, 0.6, seed=4), make_signal(1, 0.2, seed=5)
    sf.write(src / "a.wav", mono[0], SAMPLE_RATE, subtype="FLOAT")
    sf.write(src / "sub" / "b.wav", stereo.T, SAMPLE_RATE, subtype="FLOAT")
    sf.write(src / "sub" / "c.flac", short[0], SAMPLE_RATE, subtype="PCM_24")  # written as c.wav
    (src / "bad.wav").write_text("this is not audio\n")
    result = timbrel("render", src, dst, "--model", test_model, "--set", "loudness_shift=-6")
    assert result.returncode == 0, result.stderr
    assert "3 rendered, 1 skipped" in result.stdout
    assert "skipped bad.wav: not readable audio" in result.stdout
    outputs = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert outputs == ["a.wav", "sub/b.wav", "sub/c.wav"]
    delay = reference.info.latency_samples
    flac = sf.read(src / "sub" / "c.flac", dtype="float32", always_2d=True)[0].T
    for name, audio in (("a.wav", mono), ("sub/b.wav", stereo), ("sub/c.wav", flac)):
        rendered, rate = sf.read(dst / name, dtype="float32", always_2d=True)
        assert rate == SAMPLE_RATE and sf.info(dst / name).subtype == "FLOAT"
        assert rendered.T.shape == audio.shape
        # Each file starts from a reset plugin: exactly the model's stream, settings applied.
        expected = reference.model_stream(audio, {"loudness": -6.0})[:, delay:]
        assert np.abs(rendered.T[:, : expected.shape[1]] - expected).max() <= 1e-5, name


def test_render_a_folder_with_mixed_rates_and_empty_folders(tmp_path, test_model):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    sf.write(src / "a.wav", make_signal(1, 0.3)[0], SAMPLE_RATE)
    sf.write(src / "b48k.wav", make_signal(1, 0.3)[0], 48000)  # resampled around the 44.1 kHz model
    result = timbrel("render", src, dst, "--model", test_model)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rendered, 0 skipped" in result.stdout
    assert sf.info(dst / "b48k.wav").samplerate == 48000
    assert sf.info(dst / "b48k.wav").frames == make_signal(1, 0.3).shape[1]

    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "notes.txt").write_text("no audio here")
    result = timbrel("render", nothing, tmp_path / "out2", "--model", test_model)
    assert result.returncode == 2 and "0 rendered, 1 skipped" in result.stdout
