"""Datasheet peaks of the cards the kit expects, to report measurements as fractions of them.

Sources (the specifications tables):
  H100: https://www.nvidia.com/en-us/data-center/h100/
  H200: https://www.nvidia.com/en-us/data-center/h200/
The tables give FP16 Tensor Core throughput with sparsity; the dense peak, used here, is
half of it. FP32 is the CUDA-core peak (no tensor cores): the bound for vkgrad's shaders,
which compute in f32 even on f16 data.
"""

from __future__ import annotations

# name: fp32 TFLOP/s, dense fp16 tensor TFLOP/s, memory bandwidth GB/s
PEAKS = {
    "H100 SXM": {"fp32_tflops": 67.0, "fp16_tensor_tflops": 989.5, "memory_gbs": 3350.0},
    "H100 PCIe": {"fp32_tflops": 51.0, "fp16_tensor_tflops": 756.5, "memory_gbs": 2000.0},
    "H100 NVL": {"fp32_tflops": 60.0, "fp16_tensor_tflops": 835.5, "memory_gbs": 3900.0},
    "H200 SXM": {"fp32_tflops": 67.0, "fp16_tensor_tflops": 989.5, "memory_gbs": 4800.0},
    "H200 NVL": {"fp32_tflops": 60.0, "fp16_tensor_tflops": 835.5, "memory_gbs": 4800.0},
}


def card(device_name: str) -> str | None:
    """The PEAKS key of a device name as the driver reports it ("NVIDIA H100 80GB HBM3" is
    the SXM card, "NVIDIA H100 PCIe", "NVIDIA H200"), or None for any other device."""
    name = device_name.lower()
    for model in ("h200", "h100"):
        if model not in name:
            continue
        if "nvl" in name:
            return f"{model.upper()} NVL"
        if "pcie" in name:
            return f"{model.upper()} PCIe"
        if model == "h200" or "sxm" in name or "hbm3" in name:
            return f"{model.upper()} SXM"
    return None


def peaks(device_name: str) -> dict | None:
    key = card(device_name)
    return None if key is None else {"card": key, **PEAKS[key]}
