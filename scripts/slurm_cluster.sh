#!/usr/bin/env bash
# A one-node SLURM cluster on this Debian machine and the tiny experiment run through it with
# profiles/slurm (`make slurm-test`). Checks that the main table was written, that every job
# went through sbatch, that the GPU rules asked SLURM for a GPU and that every artifact
# equals a local run's byte for byte. Needs root: it installs
# slurm-wlm and munge with apt when missing and runs munged, slurmctld and slurmd as root,
# with their config, state and logs under $PDIFF_SLURM_DIR (never /etc). The node declares
# one GPU backed by /dev/null, so that `--gpus=1` is scheduled as on a real cluster while the
# jobs themselves run on the CPU.
#   scripts/slurm_cluster.sh [test|up|run|check|compare|down]
#   test (default): up, run, check, compare (with a local run, byte for byte), down
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SNAKEMAKE=${SNAKEMAKE:-$REPO/.venv/bin/snakemake}
DIR=${PDIFF_SLURM_DIR:-${TMPDIR:-/tmp}/pdiff-slurm}
WORK=$DIR/work
HOST=$(hostname -s)
export SLURM_CONF=$DIR/slurm.conf
# The jobs import pdiff from this checkout (sbatch passes the environment on).
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
# The plugin's job step drops every SLURM_* variable, SLURM_CONF too, before it calls srun
# (a real cluster's srun reads /etc/slurm); this srun puts it back.
SYSTEM_PATH=$PATH
export PATH=$DIR/bin:$PATH

die() { echo "slurm_cluster: $*" >&2; exit 1; }

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "slurm-wlm and munge are missing; run as root on Debian/Ubuntu, or install them"
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

# Stop the daemons a previous run of this script started (their pid files), nothing else.
down() {
  local f pid
  for f in slurmd slurmctld munge/munged; do
    [ -f "$DIR/$f.pid" ] || continue
    pid=$(cat "$DIR/$f.pid")
    # Only if that pid is still the daemon, not a process that reused the number.
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${f##*/}" ] && kill "$pid"; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$DIR/$f.pid"
  done
}

write_config() {
  local mem
  mem=$(free -m | awk '/^Mem:/ {print int($2 * 0.8)}')  # leave room for the daemons
  cat > "$SLURM_CONF" <<CONF
ClusterName=pdiff-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
# Ports of their own, so that a system SLURM on this machine is left alone.
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/slurmd
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
# Containers have no cgroup or systemd control: plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# No slurmdbd: no accounting, so the plugin asks squeue, which lists finished jobs for
# MinJobAge seconds (it needs at least 3x its first status check interval).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
ReturnToService=2
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
  # slurmd drops a GPU without a device file; /dev/null is one that every machine has.
  echo "NodeName=$HOST Name=gpu File=/dev/null" > "$DIR/gres.conf"
}

up() {
  install
  down
  rm -rf "$DIR/ctld" "$DIR/slurmd" "$DIR/munge" "$DIR"/*.log
  mkdir -p "$DIR/ctld" "$DIR/slurmd" "$DIR/munge/key"
  chmod 711 "$DIR/munge"; chmod 700 "$DIR/munge/key"
  write_config
  mkdir -p "$DIR/bin"
  printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(PATH=$SYSTEM_PATH command -v srun)" \
    > "$DIR/bin/srun"
  chmod +x "$DIR/bin/srun"
  mungekey --create --keyfile="$DIR/munge/key/munge.key"
  munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/key/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  slurmctld -i
  slurmd
  for _ in $(seq 60); do
    [ "$(sinfo -h -n "$HOST" -o %t 2>/dev/null)" = idle ] && return
    sleep 1
  done
  tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2
  die "node $HOST did not become idle in 60 s; logs above and in $DIR"
}

run() {
  [ -x "$SNAKEMAKE" ] || die "no snakemake at $SNAKEMAKE; run make setup, or set SNAKEMAKE"
  rm -rf "$WORK"; mkdir -p "$WORK"
  "$SNAKEMAKE" --snakefile "$REPO/Snakefile" --directory "$WORK" \
    --configfile "$REPO/tests/configs/tiny.yaml" \
    --profile "$REPO/profiles/slurm" --profile "$REPO/tests/profiles/slurm-local"
}

check() {
  local table=$WORK/results/tiny/main_table.csv jobs rule lines
  [ -s "$table" ] || die "$table was not written"
  # Every job slurmctld saw (a fresh cluster: only this run's), finished ones included.
  jobs=$(squeue -h --states=all -O "JobID:|,State:|,tres-per-job:|,Comment:")
  echo "$jobs"
  [ -n "$jobs" ] || die "no job went through SLURM"
  if grep -v '|COMPLETED|' <<<"$jobs"; then die "the SLURM jobs above did not complete"; fi
  [ "$(find "$WORK/.snakemake/slurm_logs" -name '*.log' | wc -l)" = "$(wc -l <<<"$jobs")" ] \
    || die "not one log in $WORK/.snakemake/slurm_logs per SLURM job"
  # Each job of a rule with `gpu=1` in rules/ asked SLURM for a GPU (the job comment names
  # the rule).
  awk '/^rule / {r = $2; sub(":", "", r)} /gpu=1/ {print r}' "$REPO"/rules/*.smk |
    while read -r rule; do
      lines=$(grep -E "\|rule_${rule}(_wildcards_.*)?$" <<<"$jobs" || true)
      if grep -v '|gres:gpu:1|' <<<"$lines" | grep .; then die "$rule did not ask for a GPU"; fi
    done
  grep -q '|gres:gpu:1|' <<<"$jobs" || die "no SLURM job asked for a GPU"
  echo "slurm-test: main table written; $(wc -l <<<"$jobs") jobs ran through SLURM"
}

# The same tiny run without SLURM, and every artifact of the two compared byte for byte.
compare() {
  local local_run=$DIR/local files=0 path
  rm -rf "$local_run"; mkdir -p "$local_run"
  "$SNAKEMAKE" --snakefile "$REPO/Snakefile" --directory "$local_run" --cores 2 \
    --configfile "$REPO/tests/configs/tiny.yaml" --quiet
  while read -r path; do
    cmp -s "$WORK/$path" "$local_run/$path" || die "$path differs from the local run's"
    files=$((files + 1))
  done < <(cd "$local_run" && find results -name '*.safetensors' -o -name 'main_table.csv' \
             -o -name 'evaluation.csv' | sort)
  [ "$files" -gt 10 ] || die "only $files artifacts to compare in $local_run"
  echo "slurm-test: $files artifacts byte-identical to a local run's"
}

case "${1:-test}" in
  up | run | check | compare | down) "$1" ;;
  test)
    trap down EXIT; up; SECONDS=0; run; check; echo "pipeline under SLURM: ${SECONDS} s"
    compare ;;
  *) die "usage: $0 [test|up|run|check|compare|down]" ;;
esac
