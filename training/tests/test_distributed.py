"""`timbrel train` on several processes (torchrun, gloo on CPU), the device choice and the
TensorBoard logs: every rank ends with the same weights, two processes of batch B train as one
process of batch 2B does, a resumed distributed run continues where it stopped, and bad options
are refused before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from test_train import quick_config, tiny_data  # noqa: F401 (a fixture)
from timbrel.training.loop import TrainError, train

# A launcher torchrun starts once per rank: the tiny run's config, the rank's world from the
# environment torchrun sets (timbrel.training.distributed.start_world). With steps 0 it takes
# one step without moving the weights and saves rank 0's (averaged) gradients instead.
LAUNCHER = textwrap.dedent("""
    import sys
    import torch
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_train import quick_config
    from timbrel.training.distributed import end_world, start_world
    from timbrel.training.loop import Trainer, train
    data, out, steps, batch, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
    interrupt_after = int(sys.argv[6])
    config = quick_config(steps=max(steps, 1), batch=batch, valid_every=1000, checkpoint_seconds=1e9, fader_warmup=0.0)
    if interrupt_after:  # every rank sends itself Ctrl-C after that many steps, as a user would
        import os, signal
        original = Trainer.step
        def step(self):
            losses = original(self)
            if self.step_count == interrupt_after:
                os.kill(os.getpid(), signal.SIGINT)
            return losses
        Trainer.step = step
    if steps > 0:
        train(Path(data), "default", Path(out), config, resume=resume, threads=1, device_name="cpu",
              progress=False, steps=steps, model_overrides={{"hidden": 32}})
    else:
        world = start_world("cpu")
        trainer = Trainer(Path(data), Path(out), config, "default", threads=1, device_name="cpu",
                          model_overrides={{"hidden": 32}}, world=world)
        trainer.optimiser.step = trainer.disc_optimiser.step = lambda *args, **kwargs: None
        trainer.step()
        if world.main:
            torch.save(torch.cat([p.grad.reshape(-1) for p in trainer.model.parameters() if p.grad is not None]),
                       Path(out) / "gradient.pt")
        end_world(world)
""")
# Two processes of batch B against one of batch 2B: the same excerpts and noise, the gradients
# averaged instead of taken over one batch. Not bit for bit: the analysis of a batch of 2 rounds
# differently from one of 4 (by 1e-4 dB), and the spectral loss's log magnitudes of near-silent
# bins magnify that, so the first step's gradient is 7 % apart (measured; cosine 0.998), where a
# process given half the data is 49 % apart (cosine 0.88). After several steps Adam, which moves
# each weight by about the learning rate whatever the size of its gradient, spreads such
# differences over the weights: the comparison is the gradient's.
GRADIENT_TOLERANCE = 0.15
def launch(tmp_path: Path, data: Path, out: Path, *, processes: int, steps: int, batch: int, resume: bool = False,
           summary: bool = True, interrupt_after: int = 0):
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER.format(tests=str(Path(__file__).parent)))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               str(launcher), str(data), str(out), str(steps), str(batch), "1" if resume else "0", str(interrupt_after)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "run.json").read_text()) if summary else None


def weights(run: Path) -> dict:
    return torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]


def largest_difference(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].is_floating_point())


@pytest.fixture(scope="module")
def two_ranks(tiny_data, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("two_ranks")
    summary = launch(folder, tiny_data, folder / "run", processes=2, steps=6, batch=2)
    return folder / "run", summary


def test_two_ranks_end_with_the_same_weights_and_record_their_world(two_ranks):
    run, summary = two_ranks
    assert summary["world_size"] == 2 and summary["steps"] == 6
    assert summary["distributed"] == {"world_size": 2, "backend": "gloo", "batch_per_rank": 2, "global_batch": 4,
                                      "ranks_agree": True}
    assert torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["world_size"] == 2


def test_two_ranks_of_batch_two_take_the_gradient_of_one_process_of_batch_four(tiny_data, tmp_path):  # noqa: F811
    gradients = {}
    for name, processes, batch in (("two_ranks", 2, 2), ("one_process", 1, 4), ("half_the_data", 1, 2)):
        out = tmp_path / name
        out.mkdir()
        launch(tmp_path, tiny_data, out, processes=processes, steps=0, batch=batch, summary=False)
        gradients[name] = torch.load(out / "gradient.pt")
    reference = gradients["one_process"]

    def apart(name: str) -> float:
        return ((gradients[name] - reference).norm() / reference.norm()).item()

    print(f"\nfirst step's gradient, relative to one process of batch 4: two ranks of batch 2 {apart('two_ranks'):.3f}, "
          f"one process of batch 2 {apart('half_the_data'):.3f}")
    assert apart("two_ranks") <= GRADIENT_TOLERANCE
    assert apart("half_the_data") > 2 * GRADIENT_TOLERANCE  # the comparison can tell the data apart


def test_a_resumed_distributed_run_continues_where_it_stopped(two_ranks, tiny_data, tmp_path):  # noqa: F811
    """Interrupted (Ctrl-C on every rank) after 3 of its 6 steps, then resumed: the same weights as
    the run that was never stopped."""
    run, _ = two_ranks
    stopped = launch(tmp_path, tiny_data, tmp_path / "split", processes=2, steps=6, batch=2, interrupt_after=3)
    assert stopped["steps"] == 3 and stopped["stopped_by"] == "interrupted"
    resumed = launch(tmp_path, tiny_data, tmp_path / "split", processes=2, steps=6, batch=2, resume=True)
    assert resumed["steps"] == 6 and resumed["distributed"]["ranks_agree"]
    # The same steps on the same batches: a stop and a resume change nothing but float noise.
    assert largest_difference(weights(run), weights(tmp_path / "split")) <= 1e-5


def test_a_gpu_asked_for_without_one_and_an_unwritable_logdir_are_refused_before_any_work(tiny_data, tmp_path):  # noqa: F811
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="--device cuda: no CUDA GPU is available"):
            train(tiny_data, "default", tmp_path / "gpu", quick_config(steps=2), device_name="cuda", progress=False)
        assert not (tmp_path / "gpu" / "checkpoint.pt").exists()
    with pytest.raises(TrainError, match="--device tpu: expected auto, cpu or cuda"):
        train(tiny_data, "default", tmp_path / "tpu", quick_config(steps=2), device_name="tpu", progress=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(TrainError, match="--logdir .* is not writable"):
        train(tiny_data, "default", tmp_path / "run", quick_config(steps=2), logdir=blocker / "logs", progress=False)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_tensorboard_logs_every_loss_term_validation_audio_and_spectrograms(tiny_data, tmp_path):  # noqa: F811
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny_data, "default", tmp_path / "run", quick_config(steps=30, valid_every=25), threads=1, progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"audio": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    for term in ("loss", "spectral", "kl", "adversarial", "tracking", "discriminator"):
        assert f"train/{term}" in tags["scalars"], tags["scalars"]
    assert {"lr", "speed/steps_per_second", "valid/spectral", "valid/tracking"} <= set(tags["scalars"])
    assert {"audio/held_out", "audio/reconstruction", "audio/transfer"} <= set(tags["audio"])
    assert {"spectrogram/reconstruction", "spectrogram/transfer"} <= set(tags["images"])
    steps = [event.step for event in events.Scalars("train/spectral")]
    assert steps == [25, 30]  # every LOG_EVERY steps and at each validation (the last step)
