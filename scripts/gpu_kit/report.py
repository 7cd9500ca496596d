"""results.md from the kit's results.json: the device, each step, and the measurements as
ratios to PyTorch on the same device and as fractions of the card's datasheet peak."""

from __future__ import annotations

from peaks import peaks

IMPLS = ("vkgrad eager", "vkgrad captured")


def _table(head: list, rows: list) -> list:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _cell(row: dict | None, key: str = "ms") -> str:
    if row is None:
        return "-"
    if key in row:
        return f"{row[key]:.4g}"
    return row.get("error") or row.get("skipped") or "-"


def _ratio(a: dict | None, b: dict | None) -> str:
    if a is None or b is None or "ms" not in a or "ms" not in b:
        return "-"
    return f"{a['ms'] / b['ms']:.2f}"


def chosen_device(res: dict) -> dict | None:
    probe = res.get("probe", {})
    for d in probe.get("devices", []):
        if f"vulkan:{d['index']}" == probe.get("chosen"):
            return d
    return None


def device_lines(res: dict) -> list:
    probe = res.get("probe", {})
    dev = chosen_device(res)
    kit = res.get("kit", {})
    lines = [f"- command: `{res['command']}` ({res['mode']}), started {res['started']}"]
    if dev:
        driver = dev.get("driver", "?")
        lines.append(f"- device: {dev['name']} ({dev['device_type']}), driver {driver}")
        feats = probe.get("features", {})
        on = [k for k, v in sorted(feats.items()) if v["enabled"]]
        off = [k for k, v in sorted(feats.items()) if not v["enabled"]]
        lines.append(
            f"- features enabled: {', '.join(on) or 'none'}"
            + (f"; present but not enabled or absent: {', '.join(off)}" if off else "")
        )
    lines.append(
        f"- Python {probe.get('python', '?')}, NumPy {probe.get('numpy', '?')}, vkgrad from "
        f"`{probe.get('vkgrad', '?')}`"
    )
    torch = res.get("bench", {}).get("torch", {})
    if torch:
        lines.append(
            "- peer: "
            + (f"PyTorch {torch['version']} on {torch['device']}" if "version" in torch else "")
            + torch.get("error", "")
        )
    if kit:
        changes = " + uncommitted changes" if kit.get("uncommitted_changes") else ""
        lines.append(
            f"- kit: commit {kit.get('commit')}{changes}, built {kit.get('built')}, "
            f"{kit.get('spirv_files')} SPIR-V variants"
        )
    return lines + [""]


def steps_lines(res: dict) -> list:
    rows = [
        [name, "ok" if s["ok"] else "**FAILED**", s["seconds"], s["summary"]]
        for name, s in res["steps"].items()
    ]
    out = ["## Steps", ""] + _table(["step", "result", "s", "summary"], rows)
    tests = res["steps"].get("tests")
    if tests:
        counts = tests.get("deselected_by_marker", {})
        out.append(
            f'Tests: `pytest -m "{tests["marker"]}"`: {counts.get("vulkan", "?")} Vulkan '
            f"tests, of which deselected by marker: glslang {counts.get('glslang', '?')} "
            "(compile user GLSL at run time; the kit has no glslang, only precompiled SPIR-V)"
            + (
                f", extras {counts.get('extras', '?')} (examples needing scikit-learn and "
                "matplotlib, not installed)"
                if "extras" in tests["marker"]
                else ""
            )
            + f". Default device and dtype: {tests.get('defaults', '?')}."
        )
        out += [""] + [f"- `{f}`" for f in tests.get("failures", [])[:20]] + [""]
    return out


def race_lines(res: dict) -> list:
    checks = res.get("race", {}).get("checks", [])
    if not checks:
        return []
    rows = [
        [
            c["model"],
            c["dtype"],
            c.get("eager_runs", "-"),
            c.get("replays", "-"),
            c.get("error")
            or ("identical bits" if not c["differing_runs"] else c["first_difference"]),
        ]
        for c in checks
    ]
    head = ["model", "dtype", "eager runs", "replays", "against the first eager run"]
    return ["## Race check", ""] + _table(head, rows)


def train_lines(res: dict) -> list:
    rows = res.get("bench", {}).get("train", [])
    if not rows:
        return []
    by = {(r["model"], r["dtype"], r["impl"]): r for r in rows}
    peer_impls = sorted({r["impl"] for r in rows if not r["impl"].startswith("vkgrad")})
    eager_peer = next((i for i in peer_impls if i.endswith("eager")), None)
    graph_peer = next((i for i in peer_impls if i.endswith("graphs")), eager_peer)
    head = ["model", "dtype", *IMPLS, *peer_impls]
    head += [f"eager / {eager_peer}", f"captured / {graph_peer}"] if eager_peer else []
    table = []
    for model, dtype in dict.fromkeys((r["model"], r["dtype"]) for r in rows):
        cells = {impl: by.get((model, dtype, impl)) for impl in (*IMPLS, *peer_impls)}
        row = [model, dtype, *(_cell(cells[i]) for i in (*IMPLS, *peer_impls))]
        if eager_peer:
            row += [
                _ratio(cells["vkgrad eager"], cells[eager_peer]),
                _ratio(cells["vkgrad captured"], cells[graph_peer]),
            ]
        table.append(row)
    return [
        "## Training steps (ms per step, median; ratio < 1: vkgrad is faster)",
        "",
    ] + _table(head, table)


def kernel_lines(res: dict, device_name: str) -> list:
    rows = res.get("bench", {}).get("kernels", [])
    if not rows:
        return []
    card = peaks(device_name)
    table = []
    for r in rows:
        gemm = r["kernel"] == "gemm"
        rate, unit = (r.get("tflops"), "TFLOP/s") if gemm else (r.get("gbs"), "GB/s")
        frac, peak_name = "-", "-"
        if card is not None and rate is not None:
            # vkgrad's f16 GEMM computes in f32 unless it ran the cooperative-matrix shader;
            # PyTorch's runs on the tensor cores.
            tensor_cores = not r["impl"].startswith("vkgrad") or any(
                "coopmat" in s for s in r.get("shaders", [])
            )
            if not gemm:
                peak, peak_name = card["memory_gbs"], "memory bandwidth"
            elif r["dtype"] == "f16" and tensor_cores:
                peak, peak_name = card["fp16_tensor_tflops"], "FP16 tensor (dense)"
            else:
                peak, peak_name = card["fp32_tflops"], "FP32"
            frac = f"{rate / peak:.1%}"
        shaders = ", ".join(r.get("shaders", [])) or "-"
        value = f"{rate:.4g} {unit}" if rate is not None else _cell(r)
        table.append([r["kernel"], r["dtype"], r["n"], r["impl"], value, frac, peak_name, shaders])
    head = ["kernel", "dtype", "n", "impl", "rate", "of peak", "peak", "vkgrad shaders"]
    title = f"## Kernels (peaks: {card['card']} datasheet)" if card else "## Kernels"
    note = [] if card else ["No datasheet peaks for this device: no fractions.", ""]
    return [title, ""] + note + _table(head, table)


def markdown(res: dict) -> str:
    name = (chosen_device(res) or {}).get("name", "")
    lines = ["# vkgrad GPU kit results", ""] + device_lines(res) + steps_lines(res)
    lines += race_lines(res) + train_lines(res) + kernel_lines(res, name)
    return "\n".join(lines).rstrip() + "\n"
