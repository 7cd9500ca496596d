"""Building the Kompute (``kp``) wheel vkgrad runs on: PyPI has only kp 0.9.0's source, whose
build fetches its dependencies over the network and needs a fix, so vkgrad builds it itself.

``patch``: the changes made to kp's source; ``wheel``: download, patch, compile, cache;
``system``: the system packages the build and the Vulkan backend need. ``vkgrad-setup-vulkan``
(``vkgrad.setup_vulkan``) puts them together.
"""
