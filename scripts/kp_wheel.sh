#!/usr/bin/env bash
# Build the kp wheel vkgrad runs on, once per Python, and print its path.
#
#   bash scripts/kp_wheel.sh PYTHON      # PYTHON: a virtual environment's interpreter
#
# kp 0.9.0 from its PyPI source, patched by scripts/patch_kp.py, compiled against the
# system's Vulkan headers and fmt (libvulkan-dev, libfmt-dev) and against pip's pybind11
# >= 2.12 installed into PYTHON's environment: kp's own pybind11 (2.9) and Debian's (2.10)
# predate NumPy 2, whose array ABI changed. The wheel is cached under
# $VKGRAD_WHEEL_CACHE (~/.cache/vkgrad/wheels), keyed by this script, the patch and the
# Python tag, so a second call only prints the path. Used by scripts/setup.sh (the .venv)
# and scripts/gpu_kit/build.sh (the GPU kit's Python 3.12 wheel).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=$1
KP_VERSION=0.9.0
CACHE=${VKGRAD_WHEEL_CACHE:-$HOME/.cache/vkgrad/wheels}

key=$(cat scripts/kp_wheel.sh scripts/patch_kp.py | sha256sum | cut -c1-12)
tag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
dir="$CACHE/kp-$KP_VERSION-$key-$tag"

if ! ls "$dir"/kp-*.whl >/dev/null 2>&1; then
    echo "kp_wheel: building kp $KP_VERSION for $tag from source (once; a minute or two)" >&2
    "$PY" -m pip install -q cmake wheel setuptools "pybind11>=2.12" >&2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$PY" -m pip download -q --no-deps --no-binary :all: "kp==$KP_VERSION" -d "$work" >&2
    tar xzf "$work/kp-$KP_VERSION.tar.gz" -C "$work"
    "$PY" scripts/patch_kp.py "$work/kp-$KP_VERSION" >&2
    # The build fetches Vulkan-Headers, fmt and pybind11 from the network unless told to use
    # installed copies; pybind11_DIR points CMake at pip's. KOMPUTE_OPT_INSTALL=OFF avoids a
    # CMake alias-target error.
    KOMPUTE_OPT_INSTALL=OFF \
    KOMPUTE_OPT_USE_BUILT_IN_VULKAN_HEADER=OFF \
    KOMPUTE_OPT_USE_BUILT_IN_FMT=OFF \
    KOMPUTE_OPT_USE_BUILT_IN_PYBIND11=OFF \
    KOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK=ON \
    pybind11_DIR=$("$PY" -m pybind11 --cmakedir) \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$PY" -m pip wheel -q --no-build-isolation --no-deps "$work/kp-$KP_VERSION" \
        -w "$work/dist" >&2
    # Moved in whole once built, so an interrupted build leaves no half-filled cache entry.
    mkdir -p "$CACHE"
    mv "$work/dist" "$dir"
fi
ls "$dir"/kp-*.whl
