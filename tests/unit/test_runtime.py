import subprocess
import sys
import warnings

import pytest
import torch

from pdiff import runtime


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.GPU_LOCK_DIR_ENV, str(tmp_path / "locks"))
    monkeypatch.setattr(runtime, "_claim", None)
    return tmp_path / "locks"


def test_two_claims_get_different_gpus_and_a_released_gpu_is_claimed_again(lock_dir):
    first = runtime.claim_gpu(["0", "1"], lock_dir)
    second = runtime.claim_gpu(["0", "1"], lock_dir)
    assert {first.index, second.index} == {0, 1}
    with pytest.raises(RuntimeError, match="all 2 GPUs are held"):
        runtime.claim_gpu(["0", "1"], lock_dir, timeout=0)
    first.release()
    assert runtime.claim_gpu(["0", "1"], lock_dir, timeout=0).index == first.index


def test_with_several_jobs_per_gpu_claims_spread_over_the_gpus_then_share(lock_dir, monkeypatch):
    monkeypatch.setenv(runtime.JOBS_PER_GPU_ENV, "2")
    claims = [runtime.claim_gpu(["0", "1"], lock_dir, timeout=0) for _ in range(4)]
    assert [c.index for c in claims] == [0, 1, 0, 1]
    with pytest.raises(RuntimeError, match=r"all 2 GPUs are held by other processes \(2 job"):
        runtime.claim_gpu(["0", "1"], lock_dir, timeout=0)
    claims[3].release()
    assert runtime.claim_gpu(["0", "1"], lock_dir, timeout=0).index == 1
    monkeypatch.setenv(runtime.JOBS_PER_GPU_ENV, "0")
    with pytest.raises(ValueError, match="PDIFF_JOBS_PER_GPU"):
        runtime.jobs_per_gpu()


def test_a_gpu_held_by_another_process_is_skipped_until_it_exits(lock_dir):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from pdiff import runtime; "
            f"c = runtime.claim_gpu(['0', '1'], Path({str(lock_dir)!r})); "
            "print(c.index, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        held = int(holder.stdout.readline())
        mine = runtime.claim_gpu(["0", "1"], lock_dir, timeout=0)
        assert mine.index == 1 - held
        with pytest.raises(RuntimeError):
            runtime.claim_gpu(["0", "1"], lock_dir, timeout=0)
    finally:
        holder.communicate("")
    # The kernel dropped the exited process's lock: its GPU is free again.
    assert runtime.claim_gpu(["0", "1"], lock_dir, timeout=0).index == held


def test_processes_seeing_different_gpu_lists_lock_by_physical_gpu(lock_dir, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert runtime.visible_gpu_ids(2) == ["3", "5"]
    held = runtime.claim_gpu(runtime.visible_gpu_ids(2), lock_dir)  # kept: its lock stays
    assert held.index == 0 and (lock_dir / "gpu-3.lock").exists()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,3")
    # GPU 3 is now listed second; it is still held, so GPU 5 (index 0) is claimed.
    other = runtime.claim_gpu(runtime.visible_gpu_ids(2), lock_dir, timeout=0)
    assert other.index == 0
    with pytest.raises(RuntimeError, match="held"):  # both physical GPUs are taken
        runtime.claim_gpu(runtime.visible_gpu_ids(2), lock_dir, timeout=0)
    held.release()
    assert runtime.claim_gpu(runtime.visible_gpu_ids(2), lock_dir, timeout=0).index == 1


def fake_gpus(monkeypatch, count):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_pick_device_claims_a_free_gpu_once_per_process(lock_dir, monkeypatch):
    fake_gpus(monkeypatch, 2)
    other = runtime.claim_gpu(["0", "1"], lock_dir)  # another job holds GPU 0
    assert other.index == 0
    assert runtime.pick_device("auto") == torch.device("cuda", 1)
    assert runtime.pick_device("cuda") == torch.device("cuda", 1)  # the same claim
    assert runtime.pick_device("cuda:0") == torch.device("cuda", 0)  # explicit: no claim


def test_one_gpu_or_none_takes_no_lock(lock_dir, monkeypatch):
    fake_gpus(monkeypatch, 1)
    assert runtime.pick_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.pick_device("auto") == torch.device("cpu")
    assert not lock_dir.exists()


def test_bf16_is_autocast_on_cuda_only():
    with warnings.catch_warnings():  # without CUDA torch disables it; the settings stay
        warnings.simplefilter("ignore")
        ctx = runtime.autocast(torch.device("cuda"), "bf16")
    assert isinstance(ctx, torch.autocast)
    assert (ctx.device, ctx.fast_dtype) == ("cuda", torch.bfloat16)
    assert not isinstance(runtime.autocast(torch.device("cuda"), "fp32"), torch.autocast)
    assert not isinstance(runtime.autocast(torch.device("cpu"), "bf16"), torch.autocast)


def _splits(n=256):
    from pdiff.data import Splits

    g = torch.Generator().manual_seed(0)
    t = {}
    for split in ("train", "val", "test"):
        t[f"{split}_x"] = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
        t[f"{split}_y"] = torch.randint(0, 10, (n,), generator=g)
    return Splits(t, {"num_classes": 10, "mean": [0.5], "std": [0.25], "storage": "uint8"})


def test_bf16_on_the_cpu_is_ignored_and_changes_no_bit(cnn, last_two_bn, capsys):
    from pdiff.evaluation import predict_sets
    from pdiff.training import train_subset

    assert runtime.setup(0, 1, "cpu", "bf16") == torch.device("cpu")
    assert "bf16 applies on CUDA only" in capsys.readouterr().err
    cpu, data = torch.device("cpu"), _splits()
    runs, start = {}, {k: v.clone() for k, v in cnn.state_dict().items()}
    for precision in ("fp32", "bf16"):
        steps = list(
            train_subset(
                cnn,
                last_two_bn,
                data,
                steps=3,
                batch_size=64,
                lr=0.01,
                weight_decay=0.0,
                optimizer="adamw",
                seed=0,
                device=cpu,
                precision=precision,
            )
        )
        sets = torch.stack([last_two_bn.flatten(s) for s in steps])
        runs[precision] = (
            sets,
            predict_sets(cnn, last_two_bn, sets, data.images("val"), cpu, precision=precision),
        )
        cnn.load_state_dict(start)
    assert torch.equal(runs["fp32"][0], runs["bf16"][0])
    assert torch.equal(runs["fp32"][1], runs["bf16"][1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_on_cuda_computes_in_bf16(cnn):
    from pdiff.evaluation import features

    cuda, x = torch.device("cuda"), torch.randn(64, 1, 28, 28)
    assert features(cnn, x, 32, cuda, "fp32").dtype == torch.float32
    low = features(cnn, x, 32, cuda, "bf16")
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low.float(), features(cnn, x, 32, cuda, "fp32"), atol=0.1, rtol=0.05)


def test_a_log_file_gets_progress_bars_as_lines_without_carriage_returns(tmp_path):
    from tqdm import tqdm

    log = tmp_path / "stage.log"
    with runtime.output_to(str(log)):
        for _ in tqdm(range(3), desc="steps", mininterval=0):
            pass
        print("done")
    text = log.read_text()
    assert "\r" not in text and "\n\n" not in text
    assert text.splitlines()[-1] == "done" and "steps: 100%" in text


def test_process_age_counts_from_the_process_start():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(0.5); from pdiff import runtime; print(runtime.process_age())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert 0.5 <= float(out.stdout) < 60


def test_a_resumed_stage_logs_after_the_stopped_runs_lines_and_a_new_one_starts_over(tmp_path):
    log, out = tmp_path / "ae.log", tmp_path / "ae.safetensors"
    log.write_text("stopped run's lines\n")
    runtime.Resume.path_of(out).write_bytes(b"state")
    with runtime.output_to(str(log), resumes=str(out)):
        print("resumed at step 5")
    assert log.read_text().splitlines() == ["stopped run's lines", "resumed at step 5"]
    runtime.Resume.path_of(out).unlink()
    with runtime.output_to(str(log), resumes=str(out)):
        print("fresh")
    assert log.read_text().splitlines() == ["fresh"]
