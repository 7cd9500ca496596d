#!/usr/bin/env bash
# The GPU kit's one command (docs/gpu.md); `make gpu-kit` copies it to .gpu/run.sh.
#
#   .gpu/run.sh [--local] [--out DIR] [--expect-gpu | --no-expect-gpu] [--only probe,tests,...]
#
# Needs no network, no glslang and no Vulkan loader: installs the kit under
# $VKGRAD_KIT_WORK (/tmp/vkgrad-kit): the kp and vkgrad wheels into a folder on PYTHONPATH
# of the machine's python3 (3.12, with NumPy and pytest), the shared libraries the machine
# lacks from the kit's .deb files, the precompiled SPIR-V. Then kit.py probes the device,
# runs the Vulkan tests, the race check and the benchmarks, and writes results.json and
# results.md to $OUT (or --out). --local does the same here on lavapipe, in a fresh
# Python 3.12 virtual environment with NumPy and pytest (and PyTorch CPU) from the network.
# The last line printed is the verdict; the exit status is non-zero on any failure.
set -euo pipefail

KIT=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$KIT")
WORK=${VKGRAD_KIT_WORK:-/tmp/vkgrad-kit}
LOCAL=0
for a in "$@"; do [ "$a" = --local ] && LOCAL=1; done

say() { echo "gpu-kit: $*"; }
die() { echo "gpu-kit: FAIL: $*"; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/site" "$WORK/root" "$WORK/lib" "$WORK/bin"

# ---------------------------------------------------------------- Python
if [ "$LOCAL" = 1 ]; then
    base=${KIT_PYTHON:-}
    for c in "$HOME"/.pyenv/versions/3.12*/bin/python3.12 "$(command -v python3.12 || true)"; do
        [ -z "$base" ] && [ -x "$c" ] && base=$c
    done
    [ -n "$base" ] || die "--local needs Python 3.12 (pyenv install 3.12, or set KIT_PYTHON)"
    say "local: a fresh virtual environment of $base, with NumPy and pytest from the network"
    "$base" -m venv "$WORK/venv"
    "$WORK/venv/bin/python" -m pip install -q numpy pytest pytest-xdist \
        || die "could not install numpy and pytest into $WORK/venv"
    PY=$WORK/venv/bin/python
else
    PY=$(command -v "${PYTHON:-python3}") || die "no python3 on PATH"
fi
wheel_tag=$(basename "$KIT"/wheels/kp-*.whl | cut -d- -f3)
py_tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
[ "$wheel_tag" = "$py_tag" ] || die "the kit's kp wheel is for $wheel_tag, $PY is $py_tag"

# ---------------------------------------------------------------- the wheels
if ! "$PY" -m pip install -q --no-index --no-deps --target "$WORK/site" "$KIT"/wheels/*.whl \
    2>"$WORK/pip.log"; then
    say "pip could not install the wheels ($(tail -n 1 "$WORK/pip.log")); unzipping them"
    # A wheel is a zip of the installed files.
    for w in "$KIT"/wheels/*.whl; do "$PY" -m zipfile -e "$w" "$WORK/site"; done
fi

# ---------------------------------------------------------------- shared libraries
# The kit's libraries stand in only for those the machine lacks (a system Vulkan loader is
# used where there is one); --local uses all of them, to prove they work.
LIBS=${VKGRAD_KIT_LIBS:-$([ "$LOCAL" = 1 ] && echo kit || echo auto)}
command -v dpkg >/dev/null || die "dpkg is needed to unpack the kit's .deb files"
for deb in "$KIT"/debs/*.deb; do dpkg -x "$deb" "$WORK/root"; done
ldcache=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null || true)
from_kit=""
for so in "$WORK"/root/usr/lib/x86_64-linux-gnu/*.so.* "$WORK"/root/lib/x86_64-linux-gnu/*.so.*; do
    [ -e "$so" ] || continue
    name=$(basename "$so")
    case $name in *.so.[0-9] | *.so.[0-9][0-9]) ;; *) continue ;; esac  # sonames only
    if [ "$LIBS" = kit ] || ! grep -q "^[[:space:]]*$name " <<<"$ldcache"; then
        ln -sf "$so" "$WORK/lib/$name"
        from_kit="$from_kit $name"
    fi
done
say "libraries from the kit:${from_kit:- none (the machine has them all)}"
export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
missing=$(ldd "$WORK"/site/kp*.so | grep "not found" || true)
[ -z "$missing" ] || die "kp needs libraries neither the machine nor the kit has: $missing"

# ---------------------------------------------------------------- the Vulkan driver
# Containers mount NVIDIA's ICD file outside the loader's search path; --local pins lavapipe.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
    if [ "$LOCAL" = 1 ]; then
        candidates=(/usr/share/vulkan/icd.d/lvp_icd.x86_64.json)
    else
        candidates=(/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
            /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json)
    fi
    for icd in "${candidates[@]}"; do
        if [ -f "$icd" ]; then
            # VK_DRIVER_FILES for loaders since 1.3.207, VK_ICD_FILENAMES for older ones.
            export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
            break
        fi
    done
fi
say "Vulkan driver files: ${VK_DRIVER_FILES:-default search path of the loader}"

# ---------------------------------------------------------------- no glslang
# The GPU machine has no glslangValidator: every run, here too, works from the precompiled
# SPIR-V alone, on a PATH of links to every other program.
(
    IFS=:
    for d in $PATH; do
        for f in "$d"/*; do
            n=${f##*/}
            case $n in glslang*) continue ;; esac
            [ -x "$f" ] && [ ! -e "$WORK/bin/$n" ] && ln -s "$f" "$WORK/bin/$n"
        done
    done
) || true
export PATH="$WORK/bin"

export PYTHONPATH="$WORK/site"
export VKGRAD_KIT_SITE="$WORK/site"
export VKGRAD_SPIRV_BUNDLE="$KIT/spirv"
export VKGRAD_CACHE_DIR="$WORK/cache"
export PYTHONDONTWRITEBYTECODE=1
unset VKGRAD_DEVICE VKGRAD_DTYPE

cd "$ROOT"
exec "$PY" "$KIT/kit/kit.py" --kit="$KIT" --root="$ROOT" --work="$WORK" "$@"
