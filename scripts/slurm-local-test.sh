#!/bin/bash
# End-to-end test of `dqbench slurm` on a real one-node Slurm cluster on this machine (Debian's
# slurm-wlm 22.05 + munge, no systemd, no accounting): installs the packages if missing, writes a
# minimal slurm.conf, starts munged, slurmctld and slurmd, submits a small matrix (some cells already
# DONE locally), waits for the array and the dependent merge job, checks the merged database against
# a plain local run, and stops the daemons. Needs root. Not part of CI.
# Usage: scripts/slurm-local-test.sh [build/dqbench]
set -eu
dq=$(readlink -f "${1:-build/dqbench}")
[ -x "$dq" ] || { echo "no dqbench at $dq (build it first)"; exit 2; }
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
  apt-get install -y --no-install-recommends slurm-wlm slurmctld slurmd slurm-client munge > /dev/null
fi
work=$(mktemp -d /tmp/dq-slurm.XXXXXX)
chmod 755 "$work"
host=$(hostname -s)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=dqlocal
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
[ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2> /dev/null; }
chmod 400 /etc/munge/munge.key
started=()
cleanup() {
  scontrol shutdown > /dev/null 2>&1 || true
  sleep 1
  for pid in "${started[@]}"; do kill "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
munged --force
started+=("$(cat /run/munge/munged.pid 2> /dev/null || pgrep -n munged)")
slurmctld
slurmd
for f in /run/slurmctld.pid /run/slurmd.pid; do  # the daemons write them a moment after forking
  for _ in $(seq 1 50); do [ -s "$f" ] && break; sleep 0.2; done
  started+=("$(cat "$f")")
done
for i in $(seq 1 30); do
  sinfo -h -o %T 2> /dev/null | grep -q idle && break
  sleep 1
done
sinfo

write_yaml() {
  cat > "$work/$1.yaml" <<YAML
name: slurm_local
database: $work/$1.db
cache_dir: $work/cache
datasets:
  syn: {kind: synthetic_embeddings, classes: 2, per_class: 200, dim: 8, clusters_per_class: 4}
extractor: {kind: none}
train: none
grid: {method: [random, "bgfdq(k=5)"], ratio: [0.1, 0.2, 0.3, 0.4]}
YAML
}
write_yaml ref
"$dq" run "$work/ref.yaml" > "$work/ref.out" 2>&1
write_yaml exp
"$dq" run "$work/exp.yaml" --shard 1/4 > /dev/null 2>&1   # 2 of 8 cells DONE before submitting
t0=$(date +%s)
"$dq" slurm "$work/exp.yaml" --partition debug --time 00:10:00 --array-parallelism 2
cat "$work/exp.db.slurm/array.sbatch"
for i in $(seq 1 300); do
  [ -z "$(squeue -h 2> /dev/null)" ] && break
  sleep 1
done
echo "array + merge finished in $(( $(date +%s) - t0 ))s"
cat "$work"/exp.db.slurm/logs/merge_*.out
done_cells=$(sqlite3 "$work/exp.db" "SELECT count(*) FROM cells WHERE status='DONE'")
same=$([ "$(sqlite3 "$work/exp.db" "SELECT cell_id, sha256 FROM selections ORDER BY cell_id")" = \
          "$(sqlite3 "$work/ref.db" "SELECT cell_id, sha256 FROM selections ORDER BY cell_id")" ] && echo yes || echo no)
echo "merged: $done_cells of 8 DONE; selections identical to the local run: $same"
[ "$done_cells" = 8 ] && [ "$same" = yes ] && echo ok
