#!/usr/bin/env bash
# Builds bench/device/carry/ (ignored by git): everything a bare data-centre GPU
# machine needs to run bench/gpu_scale.ts offline in one command
# (bench/device/run.sh), to be sent with the device tool's `carry` option:
#
#   deno.xz        this machine's Deno binary, xz -9 (the machine has no Deno)
#   deno.sha256    its checksum, checked after unpacking
#   deno_dir/      a DENO_DIR whose npm cache holds every npm package that mod.ts,
#                  cli/main.ts, bench/gpu_scale.ts and bench/device/probe.ts import,
#                  as deno.lock pins them (`deno run --cached-only` works offline)
#   lib/           the Vulkan loader (libvulkan1) and GLVND's libraries (libglvnd0
#                  libglx0 libgl1 libegl1 libgles2 libopengl0; the NVIDIA Vulkan
#                  driver needs libGLdispatch) from Debian, for a machine without them
#   MANIFEST       what went in, with versions and sizes
#
# The whole carry must stay under the tool's 64 MiB (with the working tree);
# the script prints its size and fails above CARRY_LIMIT_MIB (default 60).
#
# Usage: bash bench/device/prepare.sh
# Env:   DENO_BIN (default: the deno on PATH), CARRY_LIMIT_MIB (default 60)
# Needs: deno, xz, apt-get and dpkg-deb (Debian/Ubuntu, amd64), network for the
#        npm registry and the Debian mirror (or a warm DENO_DIR and local .debs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
carry="$root/bench/device/carry"
limit_mib=${CARRY_LIMIT_MIB:-60}
deno_bin=$(readlink -f "${DENO_BIN:-$(command -v deno)}")
entrypoints=(mod.ts cli/main.ts bench/gpu_scale.ts bench/device/probe.ts)
debs=(libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libgles2 libopengl0)

say() { printf '[prepare] %s\n' "$*"; }
die() {
  printf '[prepare] error: %s\n' "$*" >&2
  exit 1
}

[[ $(uname -m) == x86_64 ]] || die "the device machine is x86-64; build the carry on an x86-64 machine"
for tool in xz apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
[[ -x $deno_bin ]] || die "no deno binary (set DENO_BIN)"
file_type=$(head -c 4 "$deno_bin" | od -An -c | tr -d ' ')
[[ $file_type == 177ELF ]] || die "$deno_bin is not an ELF binary (a wrapper script?); set DENO_BIN to the real binary"

staging=$(mktemp -d "${TMPDIR:-/tmp}/lifcal-carry.XXXXXX")
trap 'rm -rf "$staging"' EXIT
new="$staging/carry"
mkdir -p "$new/lib" "$staging/debs" "$staging/root"

# 1. The npm dependencies, in a fresh DENO_DIR, exactly as deno.lock pins them.
say "npm dependencies of ${entrypoints[*]} into deno_dir/ (deno.lock, frozen)"
(cd "$root" && DENO_DIR="$new/deno_dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \
  "$deno_bin" cache --frozen --quiet "${entrypoints[@]}")
# Emitted JavaScript is rebuilt there in a second; keep only the npm cache and analysis caches.
rm -rf "$new/deno_dir/gen" "$new/deno_dir/remote"
[[ -d $new/deno_dir/npm ]] || die "deno cache left no npm cache in deno_dir/"
# Check that the vendored cache alone loads every entry point, offline (an
# unreachable proxy and --cached-only; importing runs no main).
imports=$(printf '"%s",' "${entrypoints[@]}")
(cd "$root" && DENO_DIR="$new/deno_dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \
  HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
  "$deno_bin" eval --cached-only --frozen \
  "await Promise.all([${imports%,}].map((p) => import(new URL(p, 'file://$root/').href)))") ||
  die "deno_dir/ does not load the entry points offline"
rm -rf "$new/deno_dir/gen"

# 2. Deno, compressed.
deno_version=$("$deno_bin" --version | head -n 1)
say "deno: $deno_bin ($deno_version), $(($(stat -c %s "$deno_bin") / 1048576)) MiB; compressing (xz -9)"
xz -9 -T0 -c "$deno_bin" >"$new/deno.xz"
(cd "$(dirname "$deno_bin")" && sha256sum "$(basename "$deno_bin")") | awk '{print $1 "  deno"}' >"$new/deno.sha256"

# 3. Vulkan loader and GLVND from Debian, extracted (no install here or there).
say "Debian packages: ${debs[*]}"
(cd "$staging/debs" && apt-get download -o APT::Sandbox::User=root "${debs[@]}" >/dev/null) ||
  die "apt-get download failed (run apt-get update first?)"
for deb in "$staging"/debs/*.deb; do dpkg-deb -x "$deb" "$staging/root"; done
libdir="$staging/root/usr/lib/x86_64-linux-gnu"
[[ -e $libdir/libvulkan.so.1 ]] || die "libvulkan1 did not hold libvulkan.so.1"
# One plain file per shared object, named by its soname (libvulkan.so.1, ...): no
# symbolic links to travel, no development links, no other files.
find "$libdir" -maxdepth 1 -regex '.*/lib[^/]*\.so\.[0-9]+' -exec cp -L {} "$new/lib/" \;

# 4. Manifest and size.
{
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "deno: $deno_version, sha256 $(cut -d' ' -f1 "$new/deno.sha256")"
  echo "npm packages (deno_dir/npm):"
  (cd "$new/deno_dir/npm" && find . -mindepth 2 -maxdepth 3 -type d -name '[0-9]*' | sed 's|^\./|  |' | sort)
  echo "debian packages:"
  for deb in "$staging"/debs/*.deb; do echo "  $(basename "$deb")"; done
  echo "lib/:"
  for lib in "$new"/lib/*; do echo "  ${lib##*/}"; done
} >"$new/MANIFEST"

rm -rf "$carry"
mv "$new" "$carry"
bytes=$(du -sb "$carry" | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
say "sizes: $(du -sh "$carry/deno.xz" | cut -f1) deno.xz, $(du -sh "$carry/deno_dir" | cut -f1) deno_dir, $(du -sh "$carry/lib" | cut -f1) lib"
say "carry: $carry = $mib MiB ($bytes bytes; limit ${limit_mib} MiB, the tool's 64 MiB includes the working tree)"
((bytes <= limit_mib * 1048576)) || die "the carry is larger than ${limit_mib} MiB"
say "done; on a device machine: command 'bash bench/device/run.sh', carry [\"bench/device/carry\"]"
