"""Which shader variants vkgrad dispatches: the kit's bundle must hold every one.

``Dispatched`` records them inside a ``with`` block, and writes them in the format of the
test suite's coverage record (tests/conftest.py, ``VKGRAD_SHADER_COVERAGE``): a JSON list
of ``[shader, {define: value}]``.
"""

from __future__ import annotations

import json

from vkgrad.backends.vulkan import VulkanBackend


class Dispatched:
    def __init__(self) -> None:
        self.variants: set = set()  # kept across blocks: one record for several

    def __enter__(self):
        self._orig = orig = VulkanBackend._algorithm
        seen = self.variants

        def noting(be, name, defines, *args, **kwargs):
            seen.add((name, tuple(sorted(defines.items()))))
            return orig(be, name, defines, *args, **kwargs)

        VulkanBackend._algorithm = noting
        return self

    def __exit__(self, *exc) -> None:
        VulkanBackend._algorithm = self._orig

    @property
    def names(self) -> list:
        return sorted({name for name, _ in self.variants})

    def write(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump([[name, dict(d)] for name, d in sorted(self.variants)], f, indent=0)
