#!/usr/bin/env bash
# GPU check on a CUDA machine with the package installed: the CUDA-only tests, then the
# default experiment through profiles/gpu (one GPU), timed; its main table, logs and
# benchmark files go to OUTDIR. Usage: scripts/gpu_check.sh OUTDIR [snakemake args...]
set -euo pipefail
out=${1:?usage: scripts/gpu_check.sh OUTDIR [snakemake args...]}; shift
mkdir -p "$out"
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
nvidia-smi -L | tee "$out/gpu.txt"
"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"
"$py" -m pytest -q -p no:cacheprovider "$repo/tests/test_runtime.py" "$repo/tests/test_evaluation.py" > "$out/tests.txt" 2>&1 || echo "tests failed (see tests.txt)"; tail -3 "$out/tests.txt"
work=$(mktemp -d)
# Logs and tables of the run (not its tensors) go with the results, also when it fails.
trap 'tar czf "$out/logs.tgz" -C "$work" --exclude="*.safetensors" --exclude=checkpoints results 2>/dev/null || true' EXIT
start=$(date +%s)
"$py" -m snakemake --snakefile "$repo/Snakefile" --directory "$work" --profile "$repo/profiles/gpu" \
  --resources gpu=1 --configfile "$repo/config.yaml" "$@" > "$out/snakemake.txt" 2>&1
echo "default experiment on the GPU: $(( $(date +%s) - start )) s" | tee "$out/time.txt"
res=$(find "$work/results" -maxdepth 1 -mindepth 1 -type d | head -1)
cp "$res/main_table.md" "$out/"
for f in $(find "$res/benchmarks" -name '*.tsv' | sort); do
  printf '%s\t%s\n' "${f#"$res"/benchmarks/}" "$(tail -n 1 "$f" | cut -f1)"; done > "$out/rule_seconds.tsv"
grep -rhoE "runtime device [^,]+" "$res/logs" | sort | uniq -c >> "$out/time.txt" || true
cat "$out/main_table.md"
