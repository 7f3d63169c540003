"""Benchmarks of pdiff, measured side by side in one run; prints each ratio with its target.

    .venv/bin/python bench/bench.py            # all sections on the default experiment
    .venv/bin/python bench/bench.py --tiny     # a smoke test at tiny size (seconds)

Sections: eval (fast vs plain evaluation; a loop over parameter sets vs vmap; whole networks'
first convolution over shared patches vs the convolution), sampling
(DDPM 1000 vs DDIM 50), pipeline (the whole default experiment in a fresh folder: per-rule
time, peak memory and start-up), resume (the AE stopped with Ctrl-C at half its time and
rerun, against one uninterrupted), grid (the whole ablation grid in a fresh folder, about 15
min on 2 cores), large (AE and LDM training steps at D = 2K, 20K, 200K).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pdiff.config import load_config, shared_folders  # noqa: E402
from pdiff.data import load_splits  # noqa: E402
from pdiff.evaluation import accuracy, predict_sets, predict_sets_reference  # noqa: E402
from pdiff.networks import configured_network, small_cnn  # noqa: E402
from pdiff.plan import rule_of_benchmark  # noqa: E402
from pdiff.subset import ParameterSubset  # noqa: E402

CPU = torch.device("cpu")
# The per-rule table a section prints, by section: written to --out with its measures.
TABLES: dict[str, str] = {}


def report(name: str, value: float, target: str, ok: bool, detail: str = "") -> dict:
    print(f"{name:<48} {value:>10.2f}   target {target:<12} {'met' if ok else 'MISSED'}  {detail}")
    return {
        "measure": name,
        "value": float(value),
        "target": target,
        "met": bool(ok),
        "detail": detail,
    }


def default_artifacts(cfg: dict) -> dict[str, Path] | None:
    """The default experiment's artifacts, if `snakemake` has made them."""
    res = REPO / "results" / cfg["experiment"]
    g = cfg["generate"]
    variant = (
        res / "seed0" / cfg["location"] / f"k{cfg['collect']['k']}" / f"noise-{cfg['ae']['noise']}"
    )
    shared = {k: REPO / "results" / v for k, v in shared_folders(cfg).items()}
    paths = {
        "data": shared["data"] / "data.safetensors",
        "base": Path(str(shared["base"]).format(seed=0)) / "base.safetensors",
        "matrix": variant.parent / "param_matrix.safetensors",
        "layout": variant.parent / "layout.json",
        "ae": variant / "ae.safetensors",
        "ldm": variant / f"ldm-{cfg['denoiser']}" / "ldm.safetensors",
        "generated": variant / f"ldm-{cfg['denoiser']}" / g["sampler"] / "generated.safetensors",
    }
    return paths if all(p.exists() for p in paths.values()) else None


def bench_eval(tiny: bool, cfg: dict, art) -> list[dict]:
    """Fast path (shared prefix, vmapped sets) against a full forward per model."""
    if tiny or art is None:
        torch.manual_seed(0)
        model = small_cnn(channels=(8, 16, 16), hidden=16).eval()
        subset = ParameterSubset.from_model(model, ["bn3.*", "bn4.*"])
        row = subset.flatten(dict(model.named_parameters()))
        sets = row + 0.05 * torch.randn(30, subset.dim)
        x, y = torch.randn(500, 1, 28, 28), torch.randint(10, (500,))
        plain_n = 5
    else:
        from pdiff.io import load_json, load_tensors

        splits = load_splits(str(art["data"]))
        model = configured_network(cfg, splits, str(art["base"])).eval()
        subset = ParameterSubset.from_dict(load_json(art["layout"]))
        sets = torch.cat(
            [load_tensors(art["generated"])["params"], load_tensors(art["matrix"])["matrix"]]
        )
        x, y = splits.images("test"), splits.labels("test")
        plain_n = 20  # the plain path is timed on this many sets; its time per set is constant
    e = cfg["evaluate"]
    t = time.perf_counter()
    fast = predict_sets(model, subset, sets, x, CPU, e["batch_size"], e["sets_per_batch"])
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    plain = predict_sets_reference(model, subset, sets[:plain_n], x, CPU, e["batch_size"])
    t_plain = (time.perf_counter() - t) * len(sets) / plain_n
    same = torch.equal(fast[:plain_n], plain)
    acc = accuracy(fast, y)
    print(
        f"  {len(sets)} sets x {len(x)} images: fast {t_fast:.1f} s; plain "
        f"{t_plain:.1f} s (timed on {plain_n} sets, scaled); identical predictions: {same}"
    )
    return [
        report(
            "evaluation speed-up (plain / fast)",
            t_plain / t_fast,
            ">= 50x",
            t_plain / t_fast >= 50 and same,
            f"{t_plain:.1f} s vs {t_fast:.1f} s for {len(sets)} sets; identical predictions: "
            f"{same}; mean acc {acc.mean():.2f}",
        )
    ]


def bench_loop(tiny: bool, cfg: dict, art) -> list[dict]:
    """One parameter set at a time (evaluate.sets_per_batch 1, the CPU's 'auto') against 25
    sets under vmap, for the default subset and for an early one (the first BN layer)."""
    if tiny or art is None:
        torch.manual_seed(0)
        model = small_cnn(channels=(8, 16, 16), hidden=16).eval()
        x, n = torch.randn(500, 1, 28, 28), 10
    else:
        splits = load_splits(str(art["data"]))
        model = configured_network(cfg, splits, str(art["base"])).eval()
        x, n = splits.images("val"), 25
    out = []
    for location, patterns in (
        (cfg["location"], cfg["locations"][cfg["location"]]),
        ("first_bn", ["bn1.*"]),
    ):
        subset = ParameterSubset.from_model(model, patterns)
        row = subset.flatten(dict(model.named_parameters()))
        sets = row + 0.01 * torch.randn(n, subset.dim, generator=torch.Generator().manual_seed(0))
        times, preds = {}, {}
        for per in (1, 25):
            t = time.perf_counter()
            preds[per] = predict_sets(
                model, subset, sets, x, CPU, cfg["evaluate"]["batch_size"], per
            )
            times[per] = time.perf_counter() - t
        same = torch.equal(preds[1], preds[25])
        print(
            f"  {location}: {n} sets x {len(x)} images: loop {times[1]:.1f} s, vmap-25 "
            f"{times[25]:.1f} s; identical predictions: {same}"
        )
        ratio = times[25] / times[1]
        out.append(
            report(
                f"CPU {location}: time of vmap-25 / per-set loop",
                ratio,
                ">= 1",
                ratio >= 1 and same,
                f"the loop (the CPU's default) is {ratio:.2f}x as fast; identical predictions: "
                f"{same}",
            )
        )
    return out


def bench_stem(tiny: bool, cfg: dict, art) -> list[dict]:
    """Whole networks (every parameter generated) with the first convolution as a product
    over patches shared by all sets (pdiff.evaluation.PatchStem) against the convolution
    itself, for the small CNN of the independent-runs experiment and the default one."""
    from unittest import mock

    from pdiff import evaluation

    data = REPO / "results" / shared_folders(cfg)["data"] / "data.safetensors"
    if tiny or not data.exists():
        x, n = torch.randn(500, 1, 28, 28), 4
    else:
        x, n = load_splits(str(data)).images("test"), 25
    out = []
    for kwargs in (
        {"channels": (4, 8, 16), "hidden": 24, "batchnorm": False},  # experiments/*_runs.yaml
        {},  # the default small CNN
    ):
        torch.manual_seed(0)
        model = small_cnn(**kwargs).eval()
        subset = ParameterSubset.from_model(model, ["*"])
        row = subset.flatten(dict(model.named_parameters()))
        sets = row + 0.01 * torch.randn(n, subset.dim, generator=torch.Generator().manual_seed(0))
        times, preds = {}, {}
        for name in ("convolution", "patches"):
            off = mock.patch.object(evaluation.PatchStem, "of", return_value=None)
            with off if name == "convolution" else contextlib.nullcontext():
                t = time.perf_counter()
                preds[name] = predict_sets(model, subset, sets, x, CPU, 1000, 1)
                times[name] = time.perf_counter() - t
        same = torch.equal(preds["convolution"], preds["patches"])
        label = f"small_cnn {kwargs.get('channels', 'default')}"
        print(
            f"  {label}, whole: {n} sets x {len(x)} images: convolution "
            f"{times['convolution']:.1f} s, patches {times['patches']:.1f} s; identical "
            f"predictions: {same}"
        )
        ratio = times["convolution"] / times["patches"]
        out.append(
            report(
                f"{label} whole: convolution / patch stem",
                ratio,
                ">= 1",
                ratio >= 1 and same,
                f"{1e6 * times['patches'] / n / len(x):.1f} us per image and set; identical "
                f"predictions: {same}",
            )
        )
    return out


def bench_sampling(tiny: bool, cfg: dict, art) -> list[dict]:
    """DDPM with 1000 steps against DDIM with 50, on the trained LDM: time and accuracy."""
    if tiny or art is None:
        print("  sampling: needs the default experiment's artifacts (run `make run`); skipped")
        return []
    from pdiff.autoencoder import NoisyAutoencoder
    from pdiff.generator import TrainedLDM, draw
    from pdiff.io import load_json
    from pdiff.matrix import ParameterMatrix

    splits = load_splits(str(art["data"]))
    model = configured_network(cfg, splits, str(art["base"])).eval()
    subset = ParameterSubset.from_dict(load_json(art["layout"]))
    x, y = splits.images("test"), splits.labels("test")
    times, accs = {}, {}
    for sampler in ("ddpm-1000", "ddim-50"):
        t = time.perf_counter()
        matrix = ParameterMatrix.load(art["matrix"], art["layout"])
        sets, _ = draw(
            NoisyAutoencoder.load(art["ae"]),
            TrainedLDM.load(art["ldm"]),
            matrix.mean,
            matrix.std,
            n=cfg["generate"]["n"],
            seed=0,
            sampler=sampler,
            device=CPU,
        )
        times[sampler] = time.perf_counter() - t
        accs[sampler] = accuracy(predict_sets(model, subset, sets, x, CPU), y)
    ratio = times["ddpm-1000"] / times["ddim-50"]
    d_best = accs["ddim-50"].max().item() - accs["ddpm-1000"].max().item()
    d_mean = accs["ddim-50"].mean().item() - accs["ddpm-1000"].mean().item()
    print(
        f"  ddpm-1000 {times['ddpm-1000']:.1f} s, ddim-50 {times['ddim-50']:.1f} s; best "
        f"{accs['ddpm-1000'].max():.2f} vs {accs['ddim-50'].max():.2f}, mean "
        f"{accs['ddpm-1000'].mean():.2f} vs {accs['ddim-50'].mean():.2f}"
    )
    return [
        report("sampling speed-up (DDPM-1000 / DDIM-50)", ratio, ">= 15x", ratio >= 15),
        report(
            "DDIM-50 minus DDPM-1000, best acc (points)", d_best, "|d| <= 0.2", abs(d_best) <= 0.2
        ),
        report(
            "DDIM-50 minus DDPM-1000, mean acc (points)", d_mean, "|d| <= 0.2", abs(d_mean) <= 0.2
        ),
    ]


def run_fresh(target: list[str], config: Path) -> tuple[float, Path]:
    """Snakemake `target` in a fresh folder (data files present): wall seconds, the folder."""
    work = Path(tempfile.mkdtemp())
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
        + target  # before --quiet, which would take a target for its own value
        + ["--directory", str(work), "--configfile", str(config), "--cores", "all", "--quiet"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t, work


# Rules that train or sample the DDPM import diffusers (and torch._dynamo, which it loads).
SAMPLING_RULES = ("train_ldm", "generate")


def per_rule(work: Path) -> pd.DataFrame:
    """Per job of a finished run: its rule, seconds, peak memory (benchmarks/) and start-up,
    process start to the stage's work (the `start-up` line of its log)."""
    rows = []
    for f in sorted(work.rglob("benchmarks/**/*.tsv")):
        b = pd.read_csv(f, sep="\t").iloc[-1]
        name = str(f.relative_to(work)).split("benchmarks/")[1]
        log = Path(str(f).replace("/benchmarks/", "/logs/")).with_suffix(".log")
        lines = (
            [ln for ln in log.read_text().splitlines() if "start-up" in ln] if log.exists() else []
        )
        startup = float(lines[0].split("start-up ")[1].split()[0]) if lines else float("nan")
        rows.append({"job": name, "s": b["s"], "max_rss_MiB": b["max_rss"], "startup_s": startup})
    table = pd.DataFrame(rows)
    table["rule"] = [rule_of_benchmark(j) for j in table["job"]]
    return table


def startup_reports(table: pd.DataFrame) -> list[dict]:
    """The slowest start-up of the rules that sample and of those that do not."""
    out = []
    sampling = table["rule"].isin(SAMPLING_RULES)
    for label, rows, limit in [
        ("start-up, slowest rule that does not sample (s)", table[~sampling], 3.0),
        ("start-up, slowest rule that samples (s)", table[sampling], 4.0),
    ]:
        if rows["startup_s"].notna().any():
            worst = rows.loc[rows["startup_s"].idxmax()]
            out.append(
                report(
                    label,
                    worst["startup_s"],
                    f"<= {limit:g}",
                    worst["startup_s"] <= limit,
                    worst["rule"],
                )
            )
    return out


def bench_pipeline(tiny: bool) -> list[dict]:
    """The whole experiment in a fresh folder (data files present): wall time, per rule."""
    wall, work = run_fresh([], REPO / ("tests/configs/tiny.yaml" if tiny else "config.yaml"))
    table = per_rule(work)
    TABLES["pipeline"] = table.to_markdown(index=False, floatfmt=".2f")
    print(TABLES["pipeline"])
    shutil.rmtree(work)
    peak = table.max_rss_MiB.max() / 1024
    return [
        report("whole experiment, wall time (min)", wall / 60, "< 5 (aim 3)", wall < 300),
        report("largest per-rule peak memory (GiB)", peak, "< 4", peak < 4),
        *startup_reports(table),
    ]


def bench_grid(tiny: bool) -> list[dict]:
    """The whole ablation grid in a fresh folder (data files present): wall time, and the
    seconds of each rule summed over its jobs."""
    wall, work = run_fresh(
        ["ablations"], REPO / ("tests/configs/tiny.yaml" if tiny else "config.yaml")
    )
    table = per_rule(work)
    summed = table.groupby("rule").agg(
        jobs=("s", "size"), s=("s", "sum"), startup_s=("startup_s", "sum")
    )
    TABLES["grid"] = summed.sort_values("s", ascending=False).to_markdown(floatfmt=".1f")
    print(TABLES["grid"])
    shutil.rmtree(work)
    return [
        report(
            "ablation grid, wall time (min)",
            wall / 60,
            "<= 25",
            wall <= 25 * 60,
            f"{len(table)} jobs",
        ),
        *startup_reports(table),
    ]


# The chunked AE as the whole-network experiment configures it (experiments/fmnist_whole_cnn.yaml).
CHUNKED = {"kind": "chunked", "chunk_size": 64, "channels": [64, 64]}


def bench_resume(tiny: bool, scale: int = 1) -> list[dict]:
    """The experiment's AE trained uninterrupted, then again with one SIGINT to Snakemake at
    half its time and a rerun that resumes, then uninterrupted again: the two jobs' time
    against the mean of the others (this machine's times vary by 10 to 20% from run to
    run), and the bytes of the AEs (a fresh folder, data files present). `scale`: the AE trains that
    many times its steps (each job's start-up weighs less against a longer AE)."""
    config = REPO / ("tests/configs/tiny.yaml" if tiny else "config.yaml")
    cfg = load_config(config)
    if scale != 1:
        settings = yaml.safe_load(config.read_text())
        settings["experiment"] = f"{cfg['experiment']}_ae_x{scale}"
        settings["ae"]["steps"] = cfg["ae"]["steps"] * scale
        config = Path(tempfile.mkdtemp()) / "resume.yaml"
        config.write_text(yaml.safe_dump(settings))
        cfg = load_config(config)
    ae = (
        f"results/{cfg['experiment']}/seed0/{cfg['location']}/k{cfg['collect']['k']}/"
        f"noise-{cfg['ae']['noise']}/ae.safetensors"
    )
    _, work = run_fresh([ae], config)
    bench = work / ae.replace("/seed0/", "/benchmarks/seed0/", 1).replace(".safetensors", ".tsv")
    whole = pd.read_csv(bench, sep="\t").s.iloc[-1]
    first = (work / ae).read_bytes()
    (work / ae).unlink()
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), ae]
    command += ["--directory", str(work), "--configfile", str(config), "--cores", "all"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # the job starts when Snakemake names its rule
        if "rule train_ae" in line:
            break
    start = time.perf_counter()
    time.sleep(whole / 2)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    stopped = time.perf_counter() - start
    subprocess.run([*command, "--unlock"], check=True, capture_output=True)
    subprocess.run(command, check=True, capture_output=True)
    rest = pd.read_csv(bench, sep="\t").s.iloc[-1]
    log = work / ae.replace("/seed0/", "/logs/seed0/", 1).replace(".safetensors", ".log")
    resumed = [ln for ln in log.read_text().splitlines() if "resumed at step" in ln]
    same = (work / ae).read_bytes() == first
    (work / ae).unlink()  # once more uninterrupted: the baseline is the two runs' mean
    subprocess.run(command, check=True, capture_output=True)
    again = pd.read_csv(bench, sep="\t").s.iloc[-1]
    same = same and (work / ae).read_bytes() == first
    shutil.rmtree(work)
    if scale != 1:
        shutil.rmtree(config.parent)
    ratio, steps = (stopped + rest) / ((whole + again) / 2), cfg["ae"]["steps"]
    how = (
        "resumed at step " + resumed[0].split("resumed at step ")[1].split()[0]
        if resumed
        else "NOT resumed"
    )
    detail = f"{stopped:.1f} + {rest:.1f} s vs {whole:.1f}, {again:.1f} s; {how}"
    return [
        report(
            f"{steps} AE steps: stopped at half, resumed / once",
            ratio,
            "<= 1.2",
            ratio <= 1.2,
            detail,
        ),
        report(f"{steps} AE steps: resumed AE byte-identical (1 = yes)", float(same), "1", same),
    ]


def large_step(dim: int, steps: int, kind: str, cfg: dict) -> dict:
    """Time and peak memory of AE and LDM training steps at D = dim with either AE (run in
    its own process, so that peak memory is this size's alone)."""
    from pdiff.autoencoder import autoencoder_config, build_autoencoder
    from pdiff.denoiser import LatentDenoiser
    from pdiff.diffusion import make_scheduler
    from pdiff.subset import ParameterSubset

    def gib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    def timed(step):
        step()  # warm-up
        t = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - t) / steps

    torch.manual_seed(0)
    a, m = cfg["ae"], cfg["ldm"]
    rows = torch.randn(a["batch_size"], dim)
    a = {**a, **(CHUNKED if kind == "chunked" else {"kind": "flat"})}
    ae = build_autoencoder(autoencoder_config(a, ParameterSubset(("w",), ((dim,),))))
    opt = torch.optim.AdamW(ae.parameters(), a["lr"])

    def ae_step():
        loss = torch.nn.functional.mse_loss(ae(rows, a["input_noise"], a["latent_noise"]), rows)
        opt.zero_grad()
        loss.backward()
        opt.step()

    t_ae, peak_ae = timed(ae_step), gib()
    z = ae.encode(rows).detach()
    net = LatentDenoiser(z.shape[1], m["channels"], m["blocks"], m["time_dim"])
    sched, opt2 = make_scheduler("ddpm"), torch.optim.AdamW(net.parameters(), m["lr"])

    def ldm_step():
        noise, t_ = torch.randn_like(z), torch.randint(m["timesteps"], (len(z),))
        loss = torch.nn.functional.mse_loss(net(sched.add_noise(z, noise, t_), t_), noise)
        opt2.zero_grad()
        loss.backward()
        opt2.step()

    return {
        "ae_step_s": t_ae,
        "ldm_step_s": timed(ldm_step),
        "ae_params": sum(p.numel() for p in ae.parameters()),
        "peak_after_ae_GiB": peak_ae,
        "peak_GiB": gib(),
    }


def bench_large(tiny: bool, cfg: dict) -> list[dict]:
    """AE and LDM training step time and peak memory (each D in its own process)."""
    dims, steps = ((2_000,), 2) if tiny else ((2_000, 20_000, 200_000), 5)
    rows = []
    for kind in ("flat", "chunked"):
        for d in dims:
            out = subprocess.run(
                [sys.executable, __file__, "--large-step", str(d), str(steps), kind]
                + (["--tiny"] if tiny else []),
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append({"AE": kind, "D": d, **json.loads(out.stdout.strip().splitlines()[-1])})
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False, floatfmt=".3f"))
    big = table[table.D == max(dims)].set_index("AE")
    return [
        report(
            f"D={max(dims)}, {kind} AE: peak memory of AE+LDM training (GiB)",
            big.peak_GiB[kind],
            "< 8",
            big.peak_GiB[kind] < 8,
            f"AE step {big.ae_step_s[kind]:.2f} s",
        )
        for kind in ("flat", "chunked")
    ]


def write_tables(out: Path, results: dict[str, list[dict]]) -> None:
    """<section>.md for each section that ran: its measures against their targets, then its
    per-rule table (a later run of one section replaces only that section's file)."""
    out.mkdir(parents=True, exist_ok=True)
    for section, rows in results.items():
        summary = pd.DataFrame(rows)
        if len(summary):
            summary["met"] = summary["met"].map({True: "met", False: "MISSED"})
        text = (
            f"`python bench/bench.py --only {section}`: {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}\n\n" + summary.to_markdown(index=False, floatfmt=".2f")
        )
        if section in TABLES:
            text += "\n\n" + TABLES[section]
        (out / f"{section}.md").write_text(text + "\n")
    print(f"tables written to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="smoke test at tiny size")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=["eval", "sampling", "pipeline", "resume", "grid", "large"],
        default=["eval", "sampling", "pipeline", "resume", "grid", "large"],
    )
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument(
        "--out",
        help="folder for the summary and per-rule tables as Markdown (default: results/bench; "
        "none with --tiny)",
    )
    ap.add_argument("--large-step", nargs=3, metavar=("D", "STEPS", "KIND"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(REPO / ("tests/configs/tiny.yaml" if args.tiny else "config.yaml"))
    if args.large_step:
        d, steps, kind = args.large_step
        print(json.dumps(large_step(int(d), int(steps), kind, cfg)))
        return
    art = None if args.tiny else default_artifacts(cfg)
    results = {}
    for section in args.only:
        print(f"\n## {section}")
        if section == "eval":
            results[section] = (
                bench_eval(args.tiny, cfg, art)
                + bench_loop(args.tiny, cfg, art)
                + bench_stem(args.tiny, cfg, art)
            )
        elif section == "sampling":
            results[section] = bench_sampling(args.tiny, cfg, art)
        elif section == "pipeline":
            results[section] = bench_pipeline(args.tiny)
        elif section == "resume":
            results[section] = bench_resume(args.tiny) + bench_resume(args.tiny, scale=4)
        elif section == "grid":
            results[section] = bench_grid(args.tiny)
        else:
            results[section] = bench_large(args.tiny, cfg)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    out = args.out or (None if args.tiny else str(REPO / "results" / "bench"))
    if out:
        write_tables(Path(out), results)
    print(
        f"\npeak memory of this process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    )


if __name__ == "__main__":
    main()
