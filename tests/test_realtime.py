"""The real plugin in real-time mode, through timbrel_rt_host (tests/native): our own host,
because pedalboard and DawDreamer only ever run the plugin offline. Outputs are compared
latency-aligned: output[:, latency + i] lines up with input[:, i]."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLE_RATE, make_signal
from timbrel_tools.rthost import RtHostError, find_rt_host, model_state, render_native, selftest_alloc

TOLERANCE = 1e-6  # for comparisons of renders that differ by design (gain, a fixed source)


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Real-time (without underruns) and offline renders with the same blocks agree bit for bit."""
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


def aligned(output: np.ndarray, report: dict, samples: int) -> np.ndarray:
    """The latency-compensated part of a raw render, checking the report's own consistency."""
    latency = report["latency_samples"]
    assert latency == report["latency_samples_at_prepare"], "latency changed during playback"
    assert latency == int(report["status"]["latency"]), "host and plugin disagree on the latency"
    assert output.shape[1] == samples + latency
    assert np.isfinite(output).all()
    return output[:, latency: latency + samples]


def print_report(label: str, report: dict) -> None:
    us = report["callback_us"]
    print(f"\n{label}: callback_us mean {us['mean']:.0f} p50 {us['p50']:.0f} p99 {us['p99']:.0f} "
          f"max {us['max']:.0f} (budget {report['budget_us']:.0f}, over budget {report['over_budget_blocks']}"
          f"/{report['timed_blocks']}, late {report['late_blocks']}); audio thread allocations "
          f"{report['audio_thread_allocations']}, frees {report['audio_thread_frees']} "
          f"[{report['audio_thread_scheduling']}]")


@pytest.fixture(scope="module")
def rt_host():
    return find_rt_host()  # fails loudly when the host has not been built


@pytest.fixture(scope="module")
def test_state(test_model) -> bytes:
    return model_state(test_model)


@pytest.fixture(scope="module")
def realtime_render(rt_host, plugin_path, test_state):
    """One second of the test signal, real-time mode, in lockstep with the plugin's worker: each
    callback waits until the worker has computed what it was given, so no machine, idle or
    busy, can make it underrun (an underrun plays dry by design, which would change the output).
    Timing under load is measured by make bench and make bench-soak, not here."""
    audio = make_signal(2, 1.0)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=128, realtime=True,
                                   lockstep=True, state=test_state, host=rt_host)
    print_report("real-time, lockstep, block 128", report)
    assert report["lockstep"] is True and report["lockstep_timeouts"] == 0
    assert int(report["status"]["underruns"]) == 0
    return audio, output, report


def test_realtime_render_matches_offline_render(realtime_render, rt_host, plugin_path, test_state):
    audio, output, report = realtime_render
    assert report["realtime"] is True and report["paced"] is False
    assert report["block_sizes"] == [128]
    assert report["status"]["active"] == "1" and report["status"]["message"] == "", report["status"]
    assert report["status"]["modelName"] == "timbrel-test"
    assert report["status"]["failedHops"] == "0"
    assert report["timed_blocks"] == report["blocks"] == -(-output.shape[1] // 128)

    offline, offline_report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=128,
                                            realtime=False, state=test_state, host=rt_host)
    assert offline_report["realtime"] is False and offline_report["paced"] is False
    live = aligned(output, report, audio.shape[1])
    assert_same(live, aligned(offline, offline_report, audio.shape[1]))
    # The model changes the sound: not a pass-through (nor silence).
    assert np.abs(live - audio).max() > 0.05


def test_sixteen_instances_in_one_process(rt_host, plugin_path, test_state):
    audio = make_signal(2, 0.5, seed=1)
    # Real time, paced: sixteen workers and sixteen models side by side, nothing breaks.
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True,
                                   pace=1.0, state=test_state, instances=16, host=rt_host)
    print_report("16 instances, paced, block 256", report)
    assert report["instances"] == 16
    aligned(output, report, audio.shape[1])
    # Offline: instances are independent, the first one sounds exactly as a lone instance does.
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=False,
                                   state=test_state, instances=16, host=rt_host)
    single, single_report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256,
                                          realtime=False, state=test_state, host=rt_host)
    assert_same(aligned(output, report, audio.shape[1]), aligned(single, single_report, audio.shape[1]))


def test_threaded_mode_never_allocates_on_the_audio_thread(rt_host, plugin_path, test_state, tmp_path):
    # The worker owns libtorch; the callback only copies through lock-free rings. What the
    # counter sees on the audio thread must therefore be exactly what the plugin costs with no
    # model at all: JUCE's own VST3 wrapper (Debian's JUCE 7.0.5) allocates a little around every
    # processBlock call, outside Timbrel's code. Warm-up blocks let first-call allocations pass.
    audio = make_signal(2, 1.0, seed=6)
    common = dict(plugin_path=plugin_path, block=64, realtime=True, pace=2.0, warmup_blocks=32, host=rt_host)
    _, baseline = render_native(audio, SAMPLE_RATE, state=model_state(tmp_path / "no-such-model.ts"), **common)
    assert baseline["status"]["active"] == "0" and "could not load" in baseline["status"]["message"]
    _, report = render_native(audio, SAMPLE_RATE, state=test_state, settings={"processing_mode": "Threaded"}, **common)
    print_report("no model (JUCE wrapper only), paced, block 64", baseline)
    print_report("Threaded, paced, block 64", report)
    assert report["status"]["mode"] == "Threaded" and report["status"]["active"] == "1"
    # Same count per callback (the renders differ in length by the latency).
    for key in ("audio_thread_allocations", "audio_thread_frees"):
        assert report[key] * baseline["timed_blocks"] == baseline[key] * report["timed_blocks"], key
    # Inline runs libtorch in the callback, which allocates: the counter sees it.
    _, inline = render_native(audio, SAMPLE_RATE, state=test_state, settings={"processing_mode": "Inline"}, **common)
    print_report("Inline, paced, block 64", inline)
    assert inline["status"]["mode"] == "Inline"
    assert inline["audio_thread_allocations"] > baseline["audio_thread_allocations"] + inline["timed_blocks"] // 4


def test_allocation_counter_counts(realtime_render, rt_host, plugin_path, test_state):
    # The interposer counts a deliberate malloc, operator new and strdup (allocating inside
    # libc, as the plugin's libraries do) in the counted scope, nothing outside it or on other
    # threads, and the plugin binds to it (every replaced symbol is the exported one). So a
    # count of 0 from a render means the plugin did not allocate, not a counter that never counts.
    check = selftest_alloc(rt_host)
    assert check["unexported"] == []
    assert (check["allocations"], check["frees"]) == (check["expected_allocations"], check["expected_frees"]) == (3, 3)
    assert check["outside_scope"] == 0 and check["other_thread"] == 0
    assert check["ok"]

    _, _, report = realtime_render
    print(f"\nreal-time mode: {report['audio_thread_allocations']} allocations and "
          f"{report['audio_thread_frees']} frees on the audio thread in {report['timed_blocks']} callbacks")

    # Counting covers timed blocks only: with every block a warm-up block, nothing is counted.
    audio = make_signal(2, 0.1)
    _, warm = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=128, realtime=True, pace=0.0,
                            state=test_state, warmup_blocks=10**6, host=rt_host)
    assert warm["timed_blocks"] == 0
    assert warm["audio_thread_allocations"] == 0 and warm["audio_thread_frees"] == 0


def test_varying_block_sizes_match_a_fixed_block(rt_host, plugin_path, test_state):
    audio = make_signal(2, 1.0, seed=2)
    fixed, fixed_report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=512,
                                        realtime=False, state=test_state, host=rt_host)
    varying, varying_report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path,
                                            block_pattern=[1, 7, 64, 333, 2048, 5], realtime=False,
                                            state=test_state, host=rt_host)
    assert varying_report["block_sizes"] == [1, 7, 64, 333, 2048, 5]
    # The hops a block completes go to the model in one call, so other block sizes round the
    # last bits of its matrix products differently: equal within float rounding, not bit for bit.
    np.testing.assert_allclose(aligned(varying, varying_report, audio.shape[1]),
                               aligned(fixed, fixed_report, audio.shape[1]), rtol=0, atol=TOLERANCE)


def test_mono_layout_and_settings_apply_from_the_first_sample(rt_host, plugin_path, test_state):
    audio = make_signal(1, 0.5, seed=3)
    plain, plain_report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=128, realtime=False,
                                        state=test_state, host=rt_host)
    quieter, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=100, realtime=False,
                                    state=test_state, settings={"output_gain": -6.0}, host=rt_host)
    assert report["channels"] == 1 and quieter.shape[0] == 1
    assert report["parameters"]["output_gain"].endswith("(-6.0000000)")
    # No ramp from the default: the host hands settings over before playback.
    gain = np.float32(10 ** (-6.0 / 20))
    np.testing.assert_allclose(aligned(quieter, report, audio.shape[1]),
                               aligned(plain, plain_report, audio.shape[1]) * gain, rtol=0, atol=TOLERANCE)


def test_sidechain_bus_can_be_fed(rt_host, plugin_path, test_state):
    audio = make_signal(2, 0.25, seed=4)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=128, realtime=True, pace=0.0,
                                   state=test_state, sidechain=make_signal(1, 0.1, seed=5), host=rt_host)
    assert report["sidechain_channels"] == 1 and report["channels"] == 2
    aligned(output, report, audio.shape[1])


def test_bad_plugin_path_is_a_clear_error(rt_host, tmp_path):
    with pytest.raises(RtHostError, match="exited with 2: .*plugin not found"):
        render_native(make_signal(2, 0.01), SAMPLE_RATE, plugin_path=tmp_path / "missing.vst3", host=rt_host)


def steady_signal(seconds: float) -> np.ndarray:
    """Tones and a little noise with no pause, so any quiet window in the output is a dropout."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(0).standard_normal((2, t.size))
    tone = 0.25 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)
    return (tone + 0.02 * noise).astype(np.float32)


def gaps(output: np.ndarray, start: int, end: int, window: int = 256) -> float:
    """Quietest window's RMS over the median window's in output[start:end]: near 0 for a
    dropout. `end`: the input's length (past it, a switch that lowered the latency leaves the
    host's zero padding)."""
    x = output[0, start: start + (end - start) // window * window].reshape(-1, window)
    rms = np.sqrt((x.astype(np.float64) ** 2).mean(1))
    return float(rms.min() / np.median(rms))


def test_mode_and_model_change_while_playing(rt_host, plugin_path):
    """A preset loads another model, then the user switches Threaded -> Inline, while the host
    plays in real time: each change is built beside the playing engine and crossfaded in. (In
    the other order the preset would restore its own mode: a state sets every parameter.)"""
    models = plugin_path / "Contents" / "Resources" / "models"
    audio = steady_signal(3.5)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True, pace=1.0,
                                   state=model_state("violin"), host=rt_host,
                                   events=[(1.0, model_state(models / "flute.ts")), (2.0, "processing_mode=Inline")])
    print_report("mode and model change while playing", report)
    applied = report["events_applied_at_seconds"]
    assert len(applied) == 2 and applied[0] >= 1.0 and applied[1] >= 2.0
    status = report["status"]
    assert status["mode"] == "Inline"
    assert status["modelName"] == "flute"
    assert status["message"] == ""
    assert np.isfinite(output).all()
    assert gaps(output, report["latency_samples_at_prepare"] + 4096, audio.shape[1]) > 0.1, "a dropout during a switch"


def test_a_broken_preset_while_playing_is_reported_and_audio_goes_on(rt_host, plugin_path, models_dir):
    audio = steady_signal(2.0)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True, pace=1.0,
                                   state=model_state("violin"), host=rt_host,
                                   events=[(1.0, model_state(models_dir / "broken" / "truncated.ts"))])
    status = report["status"]
    assert "could not load" in status["message"] and "audio passes dry" in status["message"]
    assert np.isfinite(output).all()
    assert gaps(output, report["latency_samples_at_prepare"] + 4096, audio.shape[1]) > 0.1


def test_the_soak_reads_steal_time_per_second_and_sums_it_per_minute():
    from timbrel_tools.soak import StealSampler

    sampler = StealSampler()
    if StealSampler._steal_ms() is not None:  # Linux: /proc/stat's eighth field, in milliseconds
        assert StealSampler._steal_ms() >= 0.0
    sampler.samples = [(0.5, 10.0), (30.0, 0.0), (59.9, 20.0), (60.0, 40.0), (150.0, 5.0)]
    assert sampler.per_minute(3) == [{"total_ms": 30.0, "worst_second_ms": 20.0},
                                     {"total_ms": 40.0, "worst_second_ms": 40.0},
                                     {"total_ms": 5.0, "worst_second_ms": 5.0}]
    with StealSampler(interval=0.05) as live:
        import time

        time.sleep(0.3)
    assert all(ms >= 0.0 for _, ms in live.samples)
    assert len(live.samples) >= (2 if StealSampler._steal_ms() is not None else 0)
