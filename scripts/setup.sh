#!/usr/bin/env bash
# Idempotent set-up for `make demo` / `make test`: system packages, .venv, a kp wheel built
# once from its PyPI source (patched: shared pipelines, dependency barriers) and cached, by
# vkgrad-setup-vulkan (src/vkgrad/setup_vulkan.py), and the package itself.
# A second run finds everything in place and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
# vulkan-validationlayers: tests/test_sync_validation.py runs Vulkan work under the Khronos
# layer's synchronization validation. Our kp build never enables the layer by itself (stock kp
# 0.9.0 did, whenever it was installed: src/vkgrad/kp_build/patch.py), so installing it slows
# nothing. kp compiles against libvulkan-dev and libfmt-dev, and pip's pybind11.
SYS_PKGS="glslang-tools mesa-vulkan-drivers libvulkan-dev libfmt-dev vulkan-validationlayers"
# openmpi-bin, libopenmpi-dev: mpirun and the MPI library under vkgrad.distributed (mpi4py, from
# the dev extras); tests/test_distributed.py launches its jobs with mpirun.
SYS_PKGS="$SYS_PKGS openmpi-bin libopenmpi-dev"

# The stamp names everything the environment depends on: change any of it and set-up reruns.
stamp_key() {
    cat pyproject.toml scripts/setup.sh src/vkgrad/setup_vulkan.py src/vkgrad/kp_build/*.py \
        | sha256sum | cut -c1-16
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
    # The command a pip-installed vkgrad gives (docs/install.md), run from the checkout since
    # vkgrad is installed after it: builds or reuses the cached wheel, installs it into the
    # .venv and lists the Vulkan devices it sees.
    PYTHONPATH=src $VENV/bin/python -m vkgrad.setup_vulkan
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
    $VENV/bin/pip install -q wheel setuptools "numpy<2"
    build_kp_wheel
    $VENV/bin/pip install -q -e ".[dev]"
    echo "$key" > "$VENV/.setup-stamp"
    echo "setup: ready ($VENV)"
}

main "$@"
