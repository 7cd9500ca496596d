"""Patch the kp 0.9.0 source tree so that dependent dispatches are ordered on real GPUs.

kp 0.9.0 records only a transfer->shader barrier per buffer before a dispatch, so two
dependent compute dispatches in one command buffer may overlap on a GPU. This adds:

* a global compute/transfer -> compute memory barrier before every dispatch
  (read-after-write and write-after-read between kernels);
* a global compute -> transfer barrier before every host->device upload, so that an
  upload into a reused buffer waits for the kernels that still read it;
* a missing comma in setup.py that glues two CMake arguments together, so the build
  loses -DPYTHON_EXECUTABLE and may pick up another Python;
* ``device_type`` (VkPhysicalDeviceType: 1 integrated, 2 discrete, 3 virtual, 4 CPU) and
  ``max_push_constants_size`` in the device property dicts, so that vkgrad can rank GPUs and
  recognise a CPU implementation such as lavapipe;
* ``kp.vkgrad_barriers = 1`` so that vkgrad can tell a patched build from a stock one.

Usage: python scripts/patch_kp.py <path to the unpacked kp-0.9.0 source tree>
"""

import pathlib
import sys

GLOBAL_BARRIER = """
    {{
        // vkgrad: order this {what} after all earlier compute and transfer work.
        vk::MemoryBarrier vkgradBarrier(
          vk::AccessFlagBits::eShaderWrite | vk::AccessFlagBits::eTransferWrite,
          {dst_access});
        commandBuffer.pipelineBarrier(
          vk::PipelineStageFlagBits::eComputeShader |
            vk::PipelineStageFlagBits::eTransfer,
          {dst_stage},
          vk::DependencyFlags(),
          vkgradBarrier,
          nullptr,
          nullptr);
    }}
"""

DISPATCH_ANCHOR = '    KP_LOG_DEBUG("Kompute OpAlgoDispatch record called");\n'
UPLOAD_ANCHOR = '    KP_LOG_DEBUG("Kompute OpTensorSyncDevice record called");\n'
COMMA_BUG = "'-DKOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK=ON'\n"

# (file, old text, new text): each old text occurs exactly once in kp 0.9.0.
PATCHES = [
    ("setup.py", COMMA_BUG, COMMA_BUG.replace("'\n", "',\n")),
    (
        "src/OpAlgoDispatch.cpp",
        DISPATCH_ANCHOR,
        DISPATCH_ANCHOR
        + GLOBAL_BARRIER.format(
            what="dispatch",
            dst_access="vk::AccessFlagBits::eShaderRead | vk::AccessFlagBits::eShaderWrite",
            dst_stage="vk::PipelineStageFlagBits::eComputeShader",
        ),
    ),
    (
        "src/OpTensorSyncDevice.cpp",
        UPLOAD_ANCHOR,
        UPLOAD_ANCHOR
        + GLOBAL_BARRIER.format(
            what="upload",
            dst_access="vk::AccessFlagBits::eTransferWrite",
            dst_stage="vk::PipelineStageFlagBits::eTransfer",
        ),
    ),
    (
        "python/src/utils.hpp",
        '      "device_name"_a = deviceName,\n',
        '      "device_name"_a = deviceName,\n'
        '      "device_type"_a = static_cast<int>(properties.deviceType),\n'
        '      "max_push_constants_size"_a = properties.limits.maxPushConstantsSize,\n',
    ),
    (
        "python/src/main.cpp",
        "#ifdef VERSION_INFO\n",
        '    m.attr("vkgrad_barriers") = 1;\n#ifdef VERSION_INFO\n',
    ),
]


def main(root: str) -> None:
    base = pathlib.Path(root)
    for rel, old, new in PATCHES:
        path = base / rel
        text = path.read_text()
        if new in text:
            continue  # already patched
        if text.count(old) != 1:
            sys.exit(f"patch_kp: expected text not found once in {rel}; is this kp 0.9.0?")
        path.write_text(text.replace(old, new))
        print(f"patch_kp: patched {rel}")


if __name__ == "__main__":
    main(sys.argv[1])
