#!/usr/bin/env bash
# The one command that runs the GPU scale benchmark (bench/gpu_scale.ts) on a
# bare data-centre GPU machine: no Deno, no network, maybe no Vulkan loader.
# It needs bench/device/carry/ (built by bench/device/prepare.sh, sent with the
# device tool's carry option) and does, in order:
#
#   1. unpack the carried Deno (xz, or Python's lzma where xz is missing) and
#      check its sha256; use the carried DENO_DIR (npm cache) from a scratch copy;
#   2. put the carried Vulkan loader / GLVND libraries on LD_LIBRARY_PATH, each
#      only where the system lacks that library; point the Vulkan loader and
#      GLVND's EGL at NVIDIA's driver files when they sit only under
#      /usr/local/nvidia; show nvidia-smi when it is there;
#   3. probe the WebGPU adapter with DENO_WEBGPU_BACKEND unset, =vulkan and =gl
#      (unless the caller set it) and keep the first real GPU, else the first
#      usable software adapter;
#   4. run `lifcal selftest` (the executors against the twin's truth and each
#      other; its result is reported, it does not stop the run);
#   5. run bench/gpu_scale.ts --cached-only with a budget (--max-seconds), under
#      a hard time limit (a minute above it by default); the report is rewritten after every
#      calibration step, so even a killed run leaves its finished sizes.
#
# Usage:  bash bench/device/run.sh [gpu_scale flags, e.g. --chips 1,2 --algorithm secant]
#         (default flags: --chips 1,64,256,1000; --max-seconds comes from MAX_SECONDS)
# Env:    OUT          folder for the results (default bench/out/device); the device
#                      tool sets it and brings back what is written there
#         MAX_SECONDS  the benchmark's budget in seconds (default 300); the whole
#                      script ends within about MAX_SECONDS + 90 s
#         HARD_SECONDS the hard limit on gpu_scale (default MAX_SECONDS + 60): killed
#                      there, it leaves gpu_scale.json with the sizes and steps done
#         DENO_WEBGPU_BACKEND  force a WebGPU backend (vulkan, gl) instead of probing
#         SELFTEST=0   skip the selftest
# Writes: $OUT/run.log (everything printed), $OUT/env.txt (machine, GPU, libraries),
#         $OUT/probe.jsonl (one line per adapter probe), $OUT/selftest.txt,
#         $OUT/gpu_scale.json (the report: see bench/gpu_scale.ts, ScaleReport)
# Exit:   gpu_scale's code (0 done; 2 no usable adapter or bad flags; 3 a calibration
#         failed; 124 killed at the hard limit), or 1 when the carry is missing or broken.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
carry="$root/bench/device/carry"
out=${OUT:-$root/bench/out/device}
max_seconds=${MAX_SECONDS:-300}
hard_seconds=${HARD_SECONDS:-$((max_seconds + 60))}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/lifcal-device.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { printf '[run %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() {
  say "error: $*" >&2
  exit 1
}

has_lib() { # has_lib SONAME: whether the dynamic linker finds it without us
  local ldconfig
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  if [[ -x $ldconfig ]] && "$ldconfig" -p 2>/dev/null | grep -q "[[:space:]]$1 "; then
    return 0
  fi
  local dir
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /usr/local/lib; do
    [[ -e $dir/$1 ]] && return 0
  done
  return 1
}

unpack_deno() {
  [[ -f $carry/deno.xz ]] || die "no $carry/deno.xz: run bench/device/prepare.sh here and carry bench/device/carry"
  if command -v xz >/dev/null; then
    xz -dc "$carry/deno.xz" >"$work/deno"
  elif command -v python3 >/dev/null; then
    python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$carry/deno.xz" "$work/deno"
  else
    die "neither xz nor python3 is here to unpack deno.xz"
  fi
  chmod +x "$work/deno"
  if command -v sha256sum >/dev/null && [[ -f $carry/deno.sha256 ]]; then
    (cd "$work" && sha256sum --quiet -c "$carry/deno.sha256") || die "the unpacked deno does not match deno.sha256"
  fi
}

setup_libs() {
  mkdir -p "$work/lib"
  local added=() lib name
  for lib in "$carry"/lib/lib*.so.*; do
    [[ -e $lib ]] || continue
    name=$(basename "$lib")
    if ! has_lib "$name"; then
      ln -s "$lib" "$work/lib/$name"
      added+=("$name")
    fi
  done
  local ld_path=${LD_LIBRARY_PATH:-}
  if ((${#added[@]} > 0)); then
    ld_path="$work/lib${ld_path:+:$ld_path}"
    say "carried libraries on LD_LIBRARY_PATH (the system lacks them): ${added[*]}"
  else
    say "the system has every carried library; none added"
  fi
  local dir
  for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [[ -d $dir && :$ld_path: != *:$dir:* ]] && ld_path="${ld_path:+$ld_path:}$dir"
  done
  export LD_LIBRARY_PATH=$ld_path
  # The NVIDIA Vulkan driver and EGL vendor files, where only the driver's own
  # folder holds them (the loaders look in /usr/share and /etc).
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ -f $icd && -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]] &&
    ! compgen -G '/usr/share/vulkan/icd.d/nvidia*.json' >/dev/null &&
    ! compgen -G '/etc/vulkan/icd.d/nvidia*.json' >/dev/null; then
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    say "Vulkan driver: $icd"
  fi
  local egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  if [[ -f $egl && -z ${__EGL_VENDOR_LIBRARY_FILENAMES:-} ]] &&
    ! compgen -G '/usr/share/glvnd/egl_vendor.d/*nvidia*.json' >/dev/null; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
    say "EGL vendor: $egl"
  fi
}

describe_machine() {
  {
    echo "## uname"
    uname -a
    echo "## os"
    grep -E '^(PRETTY_NAME|VERSION)=' /etc/os-release 2>/dev/null || true
    echo "## cpus: $(nproc 2>/dev/null || echo ?)"
    echo "## nvidia-smi"
    if command -v nvidia-smi >/dev/null; then
      timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv ||
        echo "nvidia-smi failed ($?)"
      timeout 30 nvidia-smi || true
    else
      echo "no nvidia-smi"
    fi
    echo "## libraries"
    local name
    for name in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libGLX_nvidia.so.0 libEGL_nvidia.so.0; do
      if has_lib "$name"; then echo "$name: system"; elif [[ -e $work/lib/$name ]]; then echo "$name: carried"; else echo "$name: missing"; fi
    done
    echo "## Vulkan / EGL driver files"
    ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d \
      /usr/share/glvnd/egl_vendor.d /usr/local/nvidia/share/glvnd/egl_vendor.d 2>&1 || true
    echo "## environment"
    env | grep -E '^(LD_LIBRARY_PATH|VK_|__EGL|DENO_|XDG_RUNTIME_DIR|NVIDIA_)' | sort || true
    echo "## deno"
    "$work/deno" --version
  } >"$out/env.txt" 2>&1
  cat "$out/env.txt"
}

pick_backend() { # sets DENO_WEBGPU_BACKEND (or leaves it unset) from adapter probes
  : >"$out/probe.jsonl"
  local choices=("" vulkan gl) choice line selector software="" any=0 rc
  if [[ -n ${DENO_WEBGPU_BACKEND+x} ]]; then
    choices=("$DENO_WEBGPU_BACKEND")
  fi
  for choice in "${choices[@]}"; do
    set +e
    if [[ -n $choice ]]; then
      selector=(env "DENO_WEBGPU_BACKEND=$choice")
    else
      selector=(env -u DENO_WEBGPU_BACKEND)
    fi
    line=$("${selector[@]}" timeout -k 5 60 "$work/deno" run --cached-only -A bench/device/probe.ts \
      2>>"$out/probe.stderr.txt")
    rc=$?
    set -e
    [[ -n $line ]] || line="{\"backendEnv\":\"${choice}\",\"adapter\":null,\"exit\":$rc}"
    echo "$line" >>"$out/probe.jsonl"
    say "probe DENO_WEBGPU_BACKEND=${choice:-unset}: $line"
    if ((rc == 0)); then
      if [[ $line == *'"software":false'* ]]; then
        set_backend "$choice"
        say "WebGPU adapter: a GPU (DENO_WEBGPU_BACKEND=${choice:-unset})"
        return 0
      fi
      if ((any == 0)); then
        any=1
        software=$choice
      fi
    fi
  done
  if ((any == 1)); then
    set_backend "$software"
    say "warning: only a software adapter (DENO_WEBGPU_BACKEND=${software:-unset}); the numbers are not a GPU's"
    return 0
  fi
  return 1
}

set_backend() {
  if [[ -n $1 ]]; then export DENO_WEBGPU_BACKEND=$1; else unset DENO_WEBGPU_BACKEND; fi
}

main() {
  say "lifcal GPU scale run in $root; results in $out; budget ${max_seconds} s"
  [[ -d $carry ]] || die "no $carry: run bench/device/prepare.sh here and carry bench/device/carry"
  unpack_deno
  cp -r "$carry/deno_dir" "$work/deno_dir"
  export DENO_DIR="$work/deno_dir" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 NO_COLOR=1
  export XDG_RUNTIME_DIR="$work/xdg"
  mkdir -p "$XDG_RUNTIME_DIR"
  chmod 700 "$XDG_RUNTIME_DIR"
  setup_libs
  describe_machine
  cd "$root"
  if ! pick_backend; then
    say "error: no usable WebGPU adapter under any backend; see $out/env.txt and $out/probe.jsonl"
    cat "$out/probe.stderr.txt" 2>/dev/null || true
    return 2
  fi
  if [[ ${SELFTEST:-1} != 0 ]]; then
    say "lifcal selftest"
    set +e
    timeout -k 5 180 "$work/deno" run --cached-only -A cli/main.ts selftest >"$out/selftest.txt" 2>&1
    local rc=$?
    set -e
    cat "$out/selftest.txt"
    say "selftest exit $rc"
  fi
  local flags=("$@")
  if ((${#flags[@]} == 0)); then flags=(--chips "1,64,256,1000"); fi
  say "deno run --cached-only -A bench/gpu_scale.ts ${flags[*]} --max-seconds $max_seconds --out $out/gpu_scale.json"
  set +e
  timeout -k 10 "$hard_seconds" "$work/deno" run --cached-only -A bench/gpu_scale.ts \
    "${flags[@]}" --max-seconds "$max_seconds" --out "$out/gpu_scale.json"
  local status=$?
  set -e
  rm -f "$out/gpu_scale.json.tmp"
  ((status != 124)) || say "gpu_scale hit the hard limit (${hard_seconds} s); $out/gpu_scale.json holds what finished"
  local files=("$out"/*)
  say "gpu_scale exit $status; files in $out: ${files[*]##*/}"
  return "$status"
}

set +e
main "$@" 2>&1 | tee "$out/run.log"
status=${PIPESTATUS[0]}
set -e
exit "$status"
