#!/usr/bin/env bash
# Calibrates a list of chips on Slurm: one job array whose task i runs
# `lifcal calibrate --shard i/n` into a shared folder, and one job that runs
# `lifcal merge` on that folder once every task has ended (afterany).
#
#   examples/slurm/calibrate_array.sh --seeds 1-1000 --shards 10 --out /shared/lifcal-out
#   examples/slurm/calibrate_array.sh ... --array 3     # re-run task 3 only (and merge again)
#
# See docs/SLURM.md. Options (each with an environment variable as default):
#
#   -s, --seeds LIST    twins to calibrate, e.g. 1-64,100; "" to pass no --seeds (remote
#                       chips: give --backend remote --url ... after --)  [LIFCAL_SEEDS, 1-64]
#   -n, --shards N      shards = array tasks 0..N-1                      [LIFCAL_SHARDS, 8]
#   -o, --out DIR       the shared output folder (every node must see it)
#                                                                       [LIFCAL_OUT, ./lifcal-out]
#   -l, --lifcal CMD    the lifcal command, as shell words, e.g. "deno run -A /opt/lifcal/cli/main.ts"
#                       [LIFCAL; default: lifcal on PATH, else deno run -A on this checkout's CLI]
#   -a, --array SPEC    array indices to submit, e.g. 3 or 1,4           [0-(N-1)]
#   -S, --sbatch OPTS   more sbatch options for both jobs, as shell words, e.g.
#                       "--partition=cpu --time=02:00:00"                 [LIFCAL_SBATCH_OPTS]
#       --no-merge      submit no merge job
#       --dry-run       print the batch scripts and sbatch commands; submit nothing
#   -- FLAGS...         more `lifcal calibrate` flags, e.g. -- --backend cpu --no-refine
#
# Prints the job ids ("array job: ID", "merge job: ID"). Each task passes --resume, so a
# re-submitted task skips the chips it had finished. Task logs: OUT/slurm-logs/.
set -euo pipefail

_die() {
  echo "calibrate_array.sh: $*" >&2
  exit 2
}

seeds="${LIFCAL_SEEDS-1-64}"
shards="${LIFCAL_SHARDS:-8}"
out="${LIFCAL_OUT:-./lifcal-out}"
lifcal="${LIFCAL:-}"
array=""
sbatch_opts="${LIFCAL_SBATCH_OPTS:-}"
merge=1
dry_run=0
extra=()

while [ "$#" -gt 0 ]; do
  case "$1" in
    -s | --seeds) [ "$#" -ge 2 ] || _die "$1 needs a value"; seeds="$2"; shift 2 ;;
    -n | --shards) [ "$#" -ge 2 ] || _die "$1 needs a value"; shards="$2"; shift 2 ;;
    -o | --out) [ "$#" -ge 2 ] || _die "$1 needs a value"; out="$2"; shift 2 ;;
    -l | --lifcal) [ "$#" -ge 2 ] || _die "$1 needs a value"; lifcal="$2"; shift 2 ;;
    -a | --array) [ "$#" -ge 2 ] || _die "$1 needs a value"; array="$2"; shift 2 ;;
    -S | --sbatch) [ "$#" -ge 2 ] || _die "$1 needs a value"; sbatch_opts="$2"; shift 2 ;;
    --no-merge) merge=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) _die "unknown option $1 (lifcal calibrate flags go after --; see --help)" ;;
  esac
done

[[ "$shards" =~ ^[1-9][0-9]*$ ]] || _die "--shards must be a positive integer, got '$shards'"
[ -n "$out" ] || _die "--out must not be empty"
array="${array:-0-$((shards - 1))}"
[[ "$array" =~ ^[0-9,-]+(%[0-9]+)?$ ]] || _die "--array must be like 0-9, 3 or 1,4 (optionally %K), got '$array'"
IFS=',-' read -r -a indices <<<"${array%%%*}"
for i in "${indices[@]}"; do
  [ -z "$i" ] || [ "$((10#$i))" -lt "$shards" ] || _die "--array $array: index $i is not a shard of 0-$((shards - 1))"
done

if [ -z "$lifcal" ]; then
  if command -v lifcal >/dev/null 2>&1; then
    lifcal="lifcal"
  else
    main="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/cli/main.ts"
    if [ ! -f "$main" ] || ! command -v deno >/dev/null 2>&1; then
      _die "no lifcal on PATH and no deno with $main: give --lifcal or LIFCAL"
    fi
    lifcal="$(command -v deno) run -A $(printf '%q' "$main")"
  fi
fi

# Absolute, so that the tasks find the folder whatever their working directory.
case "$out" in
  /*) ;;
  *) out="$PWD/${out#./}" ;;
esac
out="${out%/}"
logs="$out/slurm-logs"

flags=()
[ -z "$seeds" ] || flags+=(--seeds "$seeds")
flags+=(--out "$out" --resume "${extra[@]}")

# The shard is the array index of --shards, not `--shard auto`: Slurm sets
# SLURM_ARRAY_TASK_COUNT from the indices submitted, so a re-submitted
# `--array=3` would be "shard 0 of 1" to --shard auto.
task_script="#!/bin/bash
set -euo pipefail
echo \"lifcal shard \${SLURM_ARRAY_TASK_ID}/$shards on \$(hostname)\" >&2
exec $lifcal calibrate --shard \"\${SLURM_ARRAY_TASK_ID}/$shards\"$(printf ' %q' "${flags[@]}")
"
merge_script="#!/bin/bash
set -euo pipefail
exec $lifcal merge $(printf '%q' "$out")
"

read -r -a opts <<<"$sbatch_opts"

_submit() { # SCRIPT SBATCH-ARGS...: prints the job id
  local script="$1"
  shift
  if [ "$dry_run" = 1 ]; then
    printf 'sbatch --parsable' >&2
    printf ' %q' "${opts[@]}" "$@" >&2
    printf ' <<EOF\n%sEOF\n' "$script" >&2
    echo "DRY-RUN"
    return
  fi
  local id
  id="$(printf '%s' "$script" | sbatch --parsable "${opts[@]}" "$@")" || _die "sbatch failed"
  echo "${id%%;*}"
}

if [ "$dry_run" = 0 ]; then
  command -v sbatch >/dev/null 2>&1 || _die "sbatch not found: is this a Slurm login node?"
  mkdir -p "$logs" # Slurm opens the task logs before the tasks start
fi

array_id="$(_submit "$task_script" --job-name=lifcal-calibrate --array="$array" \
  --output="$logs/calibrate-%A_%a.out")"
echo "array job: $array_id (tasks $array of shards 0-$((shards - 1)), output $out)"
if [ "$merge" = 1 ]; then
  merge_id="$(_submit "$merge_script" --job-name=lifcal-merge \
    --dependency="afterany:$array_id" --output="$logs/merge-%j.out")"
  echo "merge job: $merge_id (after every task of $array_id has ended; log $logs/merge-$merge_id.out)"
fi
