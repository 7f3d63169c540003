"""A training stage stopped in the middle and run again continues where it was and ends with
the same weights, bit for bit, as a run that was never stopped (runtime.Resume)."""

import os
import signal

import pytest
import torch

from pdiff.autoencoder import ParameterAutoencoder, train_autoencoder
from pdiff.denoiser import LatentDenoiser
from pdiff.diffusion import make_scheduler, train_denoiser
from pdiff.runtime import RESUME_ENV, Resume

CPU = torch.device("cpu")


class StopOnce:
    """Raises KeyboardInterrupt (a Ctrl-C) the first time it is called at `step`."""

    def __init__(self, step):
        self.step, self.stopped = step, False

    def __call__(self, step):
        if step == self.step and not self.stopped:
            self.stopped = True
            raise KeyboardInterrupt


def _ae_run(rows, resume=None, stop=None):
    torch.manual_seed(0)
    ae = ParameterAutoencoder(12, (8,), 2, 4)
    calls = {"step": 0}

    def on_eval(_):
        calls["step"] += 4
        if stop is not None:
            stop(calls["step"])
        return {"probe": 1.0}

    history = train_autoencoder(
        ae, rows, steps=20, batch_size=4, lr=1e-2, weight_decay=0.0, input_noise=0.01,
        latent_noise=0.1, seed=3, device=CPU, lr_schedule="cosine", log=lambda _: None,
        eval_every=4, on_eval=on_eval, resume=resume,
    )  # fmt: skip
    return ae.state_dict(), history


class SigintOnce(StopOnce):
    """Sends this process a SIGINT (a Ctrl-C) the first time it is called at `step`."""

    def __call__(self, step):
        if step == self.step and not self.stopped:
            self.stopped = True
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize(
    "every, stop, kept",
    [
        ("0", StopOnce, 11),  # an exception in step 12: the state kept after every step
        ("1e9", SigintOnce, 12),  # a Ctrl-C in step 12, between the states kept every tenth
    ],
)
def test_an_interrupted_autoencoder_resumes_to_the_same_bits(
    tmp_path, monkeypatch, every, stop, kept
):
    monkeypatch.setenv(RESUME_ENV, every)
    rows = torch.randn(8, 12)
    straight, history = _ae_run(rows)
    fingerprint = {"seed": 3}
    with pytest.raises(KeyboardInterrupt):
        _ae_run(rows, Resume(tmp_path / "ae", fingerprint), stop(12))
    resume = Resume(tmp_path / "ae", fingerprint)
    assert resume.state()["step"] == kept  # no finished step is lost
    resumed, history_resumed = _ae_run(rows, resume)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert history_resumed == history
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # as it was
    # another setting's saved state is not taken up
    assert Resume(tmp_path / "ae", {"seed": 4}).state() is None


def _ldm_run(latents, resume=None, stop=None):
    torch.manual_seed(0)
    net = LatentDenoiser(2, 8, 1, 8)

    def log(line):
        if stop is not None:
            stop(int(line.split()[2].rstrip(":")))

    model, history = train_denoiser(
        net, latents, make_scheduler("ddpm", 10), steps=12, batch_size=4, lr=1e-3,
        weight_decay=0.0, seed=5, device=CPU, lr_schedule="cosine", warmup_steps=2,
        ema_decay=0.9, log=log, log_every=3, resume=resume,
    )  # fmt: skip
    return model.state_dict(), history


def test_an_interrupted_ldm_resumes_to_the_same_bits_with_its_ema(tmp_path, monkeypatch):
    monkeypatch.setenv(RESUME_ENV, "0")
    latents = torch.randn(6, 2, 4)
    straight, history = _ldm_run(latents)
    with pytest.raises(KeyboardInterrupt):
        _ldm_run(latents, Resume(tmp_path / "ldm", {}), StopOnce(6))
    resumed, history_resumed = _ldm_run(latents, Resume(tmp_path / "ldm", {}))
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)  # the EMA's weights
    assert history_resumed == history


def test_a_torn_state_file_starts_over(tmp_path):
    (tmp_path / "ae.resume").write_bytes(b"not a torch file")
    lines = []
    assert Resume(tmp_path / "ae", {}, lines.append).state() is None
    assert "starting over" in lines[0]


def test_the_state_is_kept_after_every_tenth_of_the_steps_however_fast(tmp_path, monkeypatch):
    monkeypatch.setenv(RESUME_ENV, "1e9")  # never by time
    resume = Resume(tmp_path / "out", {"a": 1})
    assert not resume.due(9, 100) and resume.due(10, 100)
    resume.keep({}, torch.Generator(), [], 10)
    assert not resume.due(19, 100) and resume.due(20, 100)
