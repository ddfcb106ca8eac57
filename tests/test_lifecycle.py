"""The processor lifecycle a host relies on, in our native host (timbrel_rt_host) with the real
built VST3: every host call comes from the thread a DAW would use, and the host counts, per
thread, every way of waiting (a contended lock, a condition or semaphore wait, a futex wait,
a sleep, a yield: tests/native/wait_counter.cpp).

Rules (docs/engine.md, "Lifecycle"):
- nothing a host may call from its audio thread (process, reset/setProcessing, parameter
  changes, bypass) waits;
- a model load never holds up the thread that asked for it (construction, state restore);
- an offline render after a state restore plays the model from its first block, never dry;
- a real-time render crossfades the model in when it is ready.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLE_RATE, make_signal
from timbrel_tools.rthost import find_rt_host, model_state, render_native, selftest_waits


@pytest.fixture(scope="module")
def rt_host():
    return find_rt_host()


def waits(report: dict) -> int:
    return int(report["audio_thread_waits"]["total"])


def test_the_wait_counter_counts(rt_host):
    report = selftest_waits(rt_host)
    assert report["ok"], report
    assert report["inside"]["contended_lock"] == 1 and report["inside"]["sleep"] == 1
    assert report["outside"]["total"] == 0 and report["unexported"] == []


def test_construction_and_a_state_restore_while_playing_return_before_the_model_loads(rt_host, plugin_path):
    """The default model and a preset's model load on the plugin's loader thread: the host's
    call returns while the Status still says loading, and the audio thread never waits."""
    models = plugin_path / "Contents" / "Resources" / "models"
    audio = make_signal(2, 2.0, seed=3)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True, pace=1.0,
                                   host=rt_host, events=[(0.5, model_state(models / "flute.ts"))])
    print(f"\nconstruct {report['construct_ms']:.1f} ms, waited {report['load_wait_ms']:.1f} ms for the default "
          f"model; state restore call {report['events'][0]['call_ms']:.1f} ms, its load ended {report['load_wait_after_ms']:.1f} ms "
          f"after the render; waits {report['audio_thread_waits']}")
    assert report["loading_after_construct"] is True
    assert report["load_wait_ms"] > 0.0
    state_event = report["events"][0]
    assert state_event["kind"] == "state" and state_event["loading_after"] is True
    assert waits(report) == 0, report["audio_thread_waits"]
    assert report["status"]["modelName"] == "flute" and report["status"]["loading"] == "0"
    assert np.isfinite(output).all()


def test_reset_from_the_audio_thread_never_waits_and_the_stream_restarts(rt_host, plugin_path, test_model):
    """VST3 lets a host call setProcessing(false) (JUCE: reset()) on its processing thread.
    In Threaded mode the reset must neither sleep-poll the worker nor run the model: it is
    picked up by the next block, which restarts the stream once the worker is idle."""
    audio = make_signal(2, 1.5, seed=4)
    resets = [0.3, 0.6, 0.9]
    common = dict(plugin_path=plugin_path, block=128, state=model_state(test_model), host=rt_host, resets=resets)
    # In lockstep with the worker (no underrun on any machine, busy or idle): at each reset the
    # worker has finished its blocks. A reset that finds it mid-hop is the engine's test ("a
    # reset while the worker is busy plays silence instead of waiting"), where holding the
    # worker makes that moment certain.
    live, report = render_native(audio, SAMPLE_RATE, realtime=True, lockstep=True, **common)
    offline, offline_report = render_native(audio, SAMPLE_RATE, realtime=False, **common)
    print(f"\nreset calls: {[round(e['call_ms'], 3) for e in report['events']]} ms; waits {report['audio_thread_waits']}")
    assert [e["kind"] for e in report["events"]] == ["reset"] * 3
    assert waits(report) == 0, report["audio_thread_waits"]
    assert report["status"]["underruns"] == "0" and report["status"]["failedHops"] == "0"
    assert np.isfinite(live).all()
    # Once the last restart's transient is over, the live stream is the offline one (which
    # restarts exactly at the reset's block: offline may wait for the worker).
    latency = report["latency_samples"]
    tail = slice(int(1.2 * SAMPLE_RATE) + latency, audio.shape[1] + latency)
    assert np.abs(live[:, tail] - offline[:, tail]).max() < 1e-3
    assert np.abs(live[:, tail] - audio[:, tail.start - latency: tail.stop - latency]).max() > 0.05  # wet, not dry


def test_parameter_changes_and_bypass_while_playing_never_wait(rt_host, plugin_path, test_model):
    audio = make_signal(2, 2.0, seed=5)
    events = [(0.3, "bypass=On"), (0.6, "bypass=Off"), (0.8, "mix=50"), (1.0, "loudness_shift=-6"),
              (1.2, "threaded_margin=2 hops")]  # a margin change rebuilds the engine beside the playing one
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=128, realtime=True, pace=1.0,
                                   state=model_state(test_model), host=rt_host, events=events)
    assert len(report["events"]) == len(events)
    assert waits(report) == 0, report["audio_thread_waits"]
    assert np.isfinite(output).all()


def test_an_offline_render_right_after_a_state_restore_is_never_dry(rt_host, plugin_path, test_model):
    """pedalboard and DawDreamer render as soon as a state is set: the plugin waits for the
    load before its first offline block (prepareToPlay, processBlock), so the render equals one
    where the host waited."""
    audio = make_signal(2, 0.5, seed=6)
    common = dict(plugin_path=plugin_path, block=256, realtime=False, state=model_state(test_model), host=rt_host)
    hurried, hurried_report = render_native(audio, SAMPLE_RATE, wait_for_loads=False, **common)
    patient, patient_report = render_native(audio, SAMPLE_RATE, **common)
    assert hurried_report["load_wait_ms"] == 0.0
    assert hurried_report["latency_samples_at_prepare"] == patient_report["latency_samples_at_prepare"] > 0
    np.testing.assert_array_equal(hurried, patient)
    assert np.abs(hurried[:, :audio.shape[1]] - audio).max() > 0.05  # the model's sound, not the input


def test_a_realtime_render_that_starts_while_loading_crossfades_the_model_in(rt_host, plugin_path):
    audio = make_signal(2, 2.0, seed=7)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True, pace=1.0,
                                   state=model_state("violin"), host=rt_host, wait_for_loads=False)
    assert waits(report) == 0, report["audio_thread_waits"]
    assert report["latency_samples_at_prepare"] == 0  # nothing loaded yet: a plain pass-through
    np.testing.assert_array_equal(output[:, :256], audio[:, :256])  # the first block passes dry
    assert report["status"]["modelName"] == "violin" and report["status"]["active"] == "1"
    end = audio.shape[1]
    assert np.abs(output[:, end - 4096: end] - audio[:, end - 4096: end]).max() > 0.05  # the model plays by the end


def test_a_failing_model_recovers_after_a_transport_reset(rt_host, plugin_path, models_dir):
    """Hops louder than 0.9 make the test model raise: they play dry, the reason is reported,
    and after a reset (a transport jump) the model plays again."""
    rate = SAMPLE_RATE
    t = np.arange(rate) / rate
    loud = 0.95 * np.sin(2 * np.pi * 200 * t[: rate // 2])
    quiet = 0.3 * np.sin(2 * np.pi * 200 * t)
    audio = np.stack([np.concatenate([loud, quiet])] * 2).astype(np.float32)
    # Lockstep with the worker: an underrun would put dry audio into the tail, and none can happen.
    output, report = render_native(audio, rate, plugin_path=plugin_path, block=256, realtime=True, lockstep=True,
                                   state=model_state(models_dir / "timbrel-test-raises.ts"), host=rt_host,
                                   settings={"loudness_shift": -12.0}, resets=[0.6])
    status = report["status"]
    assert int(status["failedHops"]) > 0 and "test failure: a hop above 0.9" in status["failure"], status
    assert waits(report) == 0, report["audio_thread_waits"]
    latency = report["latency_samples"]
    tail = output[0, latency + int(1.0 * rate): latency + audio.shape[1]]
    source = audio[0, int(1.0 * rate):]
    gain_db = 20 * np.log10(np.sqrt(np.mean(tail ** 2)) / np.sqrt(np.mean(source ** 2)))
    assert -13.0 < gain_db < -11.0, f"after the reset the wet signal (12 dB down) plays: {gain_db:.1f} dB"


def test_an_offline_preset_change_mid_render_plays_the_new_model_from_its_block(rt_host, plugin_path, test_model,
                                                                                models_dir):
    """Offline, the block after a state restore waits for the load (the audio thread may wait
    offline, and the counter sees it: the zeros asserted in real time mean something), and the
    new model plays from that block: the identity model is a pure delay of its latency."""
    audio = make_signal(2, 1.0, seed=8)
    switch = int(0.5 * SAMPLE_RATE) // 256 * 256
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=False,
                                   state=model_state(test_model), host=rt_host,
                                   events=[(switch / SAMPLE_RATE, model_state(models_dir / "timbrel-identity.ts"))])
    assert report["status"]["modelName"] == "timbrel-identity"
    assert report["audio_thread_waits"]["condition_wait"] + report["audio_thread_waits"]["futex_wait"] > 0
    delay = report["latency_samples"]  # the identity model's, reported after the switch
    assert delay != report["latency_samples_at_prepare"]
    n = np.arange(switch + delay, audio.shape[1])
    np.testing.assert_array_equal(output[:, n], audio[:, n - delay])
