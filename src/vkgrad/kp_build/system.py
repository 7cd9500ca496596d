"""What the system must provide to build kp and run vkgrad on Vulkan, found without root.

Each requirement knows its Debian/Ubuntu package and a distribution-neutral description, so
that a missing one is reported as the command that installs it. cmake, pybind11, wheel and
setuptools are not among them: the build installs them with pip.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# Searched after $CPATH, $CPLUS_INCLUDE_PATH and $VULKAN_SDK/include, as a compiler would.
SYSTEM_INCLUDE_DIRS = ["/usr/local/include", "/usr/include"]
# The Vulkan loader's names; it looks for drivers' manifests (ICDs) in icd.d under these.
LOADER_NAMES = ["libvulkan.so.1", "libvulkan.so", "libvulkan.1.dylib", "vulkan-1.dll"]
ICD_CONFIG_DIRS = ["/etc/xdg", "/etc"]
ICD_DATA_DIRS = ["/usr/local/share", "/usr/share"]


@dataclass(frozen=True)
class Requirement:
    what: str
    debian: str
    generic: str
    # "build": compiling kp; "run": dispatching on a Vulkan device afterwards.
    stage: str
    found: Callable[[], bool]


def include_dirs() -> list[Path]:
    dirs = []
    for var in ("CPATH", "CPLUS_INCLUDE_PATH"):
        dirs += [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    if os.environ.get("VULKAN_SDK"):
        dirs.append(os.path.join(os.environ["VULKAN_SDK"], "include"))
    multiarch = sysconfig.get_config_var("MULTIARCH")
    for d in SYSTEM_INCLUDE_DIRS:
        dirs.append(d)
        if multiarch:
            dirs.append(os.path.join(d, multiarch))
    return [Path(d) for d in dirs]


def _header(rel: str) -> bool:
    return any((d / rel).is_file() for d in include_dirs())


def _cxx() -> bool:
    cxx = os.environ.get("CXX")
    if cxx:
        return shutil.which(cxx.split()[0]) is not None
    return any(shutil.which(c) for c in ("c++", "g++", "clang++"))


def python_include_dir() -> Path:
    return Path(sysconfig.get_paths()["include"])


def _python_headers() -> bool:
    return (python_include_dir() / "Python.h").is_file()


def _loader() -> bool:
    for name in LOADER_NAMES:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def _glslang() -> bool:
    from ..backends.vulkan import compile

    try:
        exe = compile._glslang_cmd()[0]
    except compile.ShaderCompileError:
        return False
    return shutil.which(exe) is not None


def icd_dirs() -> list[Path]:
    env = os.environ
    config = [env.get("XDG_CONFIG_HOME", "")] + ICD_CONFIG_DIRS
    data = [env.get("XDG_DATA_HOME", "")] + env.get("XDG_DATA_DIRS", "").split(":")
    data += ICD_DATA_DIRS
    return [Path(d) / "vulkan" / "icd.d" for d in config + data if d]


def _driver() -> bool:
    # Set, these replace the search (the loader's rule).
    listed = os.environ.get("VK_DRIVER_FILES") or os.environ.get("VK_ICD_FILENAMES")
    if listed:
        return any(Path(f).is_file() for f in listed.split(os.pathsep) if f)
    return any(d.is_dir() and any(d.glob("*.json")) for d in icd_dirs())


def requirements() -> list[Requirement]:
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return [
        Requirement(
            "a C++ compiler (c++, g++ or clang++ on PATH, or $CXX)",
            "g++",
            "a C++ compiler: g++ or clang++",
            "build",
            _cxx,
        ),
        Requirement(
            f"Python {py}'s C headers (Python.h)",
            f"python{py}-dev",
            f"the Python {py} development headers (python3-devel)",
            "build",
            _python_headers,
        ),
        Requirement(
            "the Vulkan loader (libvulkan) and headers (vulkan/vulkan.hpp)",
            "libvulkan-dev",
            "the Vulkan loader with its development files, and the Vulkan headers "
            "(vulkan-loader-devel and vulkan-headers, or vulkan-icd-loader and vulkan-headers)",
            "build",
            lambda: _loader() and _header("vulkan/vulkan.hpp"),
        ),
        Requirement(
            "the fmt library's headers (fmt/format.h)",
            "libfmt-dev",
            "the fmt library with its development files (fmt-devel, fmt)",
            "build",
            lambda: _header("fmt/format.h"),
        ),
        Requirement(
            "glslangValidator, the GLSL to SPIR-V compiler vkgrad's shaders go through",
            "glslang-tools",
            "glslang (the package providing glslangValidator)",
            "run",
            _glslang,
        ),
        Requirement(
            "a Vulkan driver (an ICD manifest in a vulkan/icd.d directory)",
            "mesa-vulkan-drivers",
            "a Vulkan driver: your GPU vendor's, or on a machine without a GPU Mesa's "
            "lavapipe (mesa-vulkan-drivers, vulkan-swrast)",
            "run",
            _driver,
        ),
    ]


def missing(stages: tuple[str, ...] = ("build", "run")) -> list[Requirement]:
    return [r for r in requirements() if r.stage in stages and not r.found()]


def install_hint(absent: list[Requirement]) -> str:
    """What is missing, the apt-get command that installs it, and the generic names."""
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    debs = " ".join(dict.fromkeys(r.debian for r in absent))
    lines = ["this system lacks what building kp or running vkgrad on Vulkan needs:"]
    lines += [f"  - {r.what}" for r in absent]
    lines += ["On Debian or Ubuntu, install them with:", f"  {sudo}apt-get install -y {debs}"]
    lines += ["On other systems, install:"]
    lines += [f"  - {r.generic}" for r in absent]
    lines.append(
        "cmake, pybind11 (>= 2.12), wheel and setuptools come from pip: "
        "vkgrad-setup-vulkan installs them when it builds."
    )
    lines.append("Then run vkgrad-setup-vulkan again.")
    return "\n".join(lines)
