#!/usr/bin/env bash
# Idempotent set-up for `make demo` / `make test`: system packages, .venv, a kp wheel built
# once from its PyPI source (patched: shared pipelines, dependency barriers) and cached, the
# package itself.
# A second run finds everything in place and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
KP_VERSION=0.9.0
CACHE=${VKGRAD_WHEEL_CACHE:-$HOME/.cache/vkgrad/wheels}
# vulkan-validationlayers: tests/test_sync_validation.py runs Vulkan work under the Khronos
# layer's synchronization validation. Our kp build never enables the layer by itself (stock kp
# 0.9.0 did, whenever it was installed: scripts/patch_kp.py), so installing it slows nothing.
SYS_PKGS="glslang-tools mesa-vulkan-drivers libvulkan-dev libfmt-dev pybind11-dev vulkan-validationlayers"
# openmpi-bin, libopenmpi-dev: mpirun and the MPI library under vkgrad.distributed (mpi4py, from
# the dev extras); tests/test_distributed.py launches its jobs with mpirun.
SYS_PKGS="$SYS_PKGS openmpi-bin libopenmpi-dev"

# The stamp names everything the environment depends on: change any of it and set-up reruns.
stamp_key() {
    cat pyproject.toml scripts/setup.sh scripts/patch_kp.py | sha256sum | cut -c1-16
}

missing_sys_pkgs() {
    local missing=""
    for p in $SYS_PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    echo "$missing"
}

install_sys_pkgs() {
    local missing
    missing=$(missing_sys_pkgs)
    [ -z "$missing" ] && return 0
    if ! command -v dpkg-query >/dev/null; then
        echo "setup: not a Debian-like system; install glslang and a Vulkan loader and ICD yourself." >&2
        return 0
    fi
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing system packages:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "setup: missing system packages:$missing" >&2
        echo "setup: run:  sudo apt-get install -y$missing" >&2
        exit 1
    fi
}

build_kp_wheel() {
    local patch_id dir
    patch_id=$(sha256sum scripts/patch_kp.py | cut -c1-12)
    dir="$CACHE/kp-$KP_VERSION-$patch_id-$($VENV/bin/python -c 'import sys;print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    if ! ls "$dir"/kp-*.whl >/dev/null 2>&1; then
        echo "setup: building kp $KP_VERSION from source (once; about a minute or two)"
        local work
        work=$(mktemp -d)
        $VENV/bin/pip download -q --no-deps --no-binary :all: "kp==$KP_VERSION" -d "$work"
        tar xzf "$work/kp-$KP_VERSION.tar.gz" -C "$work"
        $VENV/bin/python scripts/patch_kp.py "$work/kp-$KP_VERSION"
        mkdir -p "$dir"
        # The build fetches Vulkan-Headers, fmt and pybind11 from the network unless told to use
        # the system's copies; KOMPUTE_OPT_INSTALL=OFF avoids a CMake alias-target error.
        KOMPUTE_OPT_INSTALL=OFF \
        KOMPUTE_OPT_USE_BUILT_IN_VULKAN_HEADER=OFF \
        KOMPUTE_OPT_USE_BUILT_IN_FMT=OFF \
        KOMPUTE_OPT_USE_BUILT_IN_PYBIND11=OFF \
        KOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK=ON \
        CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
            $VENV/bin/pip wheel -q --no-build-isolation --no-deps "$work/kp-$KP_VERSION" -w "$dir"
        rm -rf "$work"
    fi
    # Same version number as a stock or older patched build: force, or pip keeps the old one.
    $VENV/bin/pip install -q --no-deps --force-reinstall "$dir"/kp-*.whl
}

main() {
    local key
    key=$(stamp_key)
    if [ -f "$VENV/.setup-stamp" ] && [ "$(cat "$VENV/.setup-stamp")" = "$key" ] \
        && [ -z "$(missing_sys_pkgs)" ]; then
        exit 0
    fi
    install_sys_pkgs
    [ -x "$VENV/bin/python" ] || $PY -m venv "$VENV"
    $VENV/bin/pip install -q --upgrade pip
    $VENV/bin/pip install -q cmake wheel setuptools "numpy<2"
    build_kp_wheel
    $VENV/bin/pip install -q -e ".[dev]"
    echo "$key" > "$VENV/.setup-stamp"
    echo "setup: ready ($VENV)"
}

main "$@"
