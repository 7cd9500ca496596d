"""The kit's driver: probe, tests, race check, benchmarks; then results.json and results.md.

Started by run.sh once the kit is installed (docs/gpu.md):

    python kit.py --kit KIT --root REPO --work WORK [--local] [--out DIR]
                  [--expect-gpu | --no-expect-gpu] [--only probe,tests,race,bench]

Each step is a child process with a time limit (run.sh's environment: the kit's vkgrad and
kp, loader, SPIR-V bundle and no glslang), so a crash or a hang costs one step, not the run.
On a GPU the steps share a deadline (``--deadline``, 450 s from the start) so that the whole
run fits the machine's 8 minutes. The last line printed is the verdict: ``gpu-kit: PASS``,
or ``gpu-kit: FAIL:`` and every failed step's reason; the exit status says the same.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import manifest
import report

HERE = Path(__file__).resolve().parent
STEPS = ("probe", "tests", "race", "bench")
# Seconds a step may take at most: (on a GPU, locally on lavapipe). A GPU step's limit is
# also cut so that the steps after it keep their minimum (RESERVE) before the deadline.
LIMITS = {
    "probe": (60, 120),
    "tests": (270, 900),
    "race": (90, 300),
    "bench": (150, 400),
}
RESERVE = {"probe": 10, "tests": 60, "race": 30, "bench": 60}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


class Log:
    """Prints and keeps everything for run.log."""

    def __init__(self) -> None:
        self.lines: list = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def run_step(cmd: list, limit: float, log: Log, env: dict, cwd: Path, keep: Path | None = None):
    """Run ``cmd``, printing its output as it comes; returns (exit status, output). A run
    past ``limit`` seconds is killed (status 124)."""
    log(f"$ {' '.join(str(c) for c in cmd)}   (limit {limit:.0f} s)")
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the kill below takes xdist workers and all with it
    )
    killed = []

    def kill() -> None:
        killed.append(True)
        os.killpg(proc.pid, 9)

    timer = threading.Timer(limit, kill)
    timer.start()
    out = []
    for line in proc.stdout:
        out.append(line)
        print(line, end="", flush=True)
    proc.wait()
    timer.cancel()
    text = "".join(out)
    if keep is not None:
        keep.write_text(text)
    log.lines += text.splitlines()
    return (124 if killed else proc.returncode), text


class Kit:
    def __init__(self, args) -> None:
        self.args = args
        self.log = Log()
        self.t0 = time.monotonic()
        self.work = Path(args.work)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.results: dict = {
            "mode": "local (lavapipe)" if args.local else "gpu",
            "command": " ".join(["run.sh", *args.argv]),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "steps": {},
        }
        self.torch_install = None

    # -------------------------------------------------------------- helpers

    def limit(self, step: str) -> float:
        cap = LIMITS[step][1 if self.args.local else 0]
        if self.args.local:
            return cap
        later = STEPS[STEPS.index(step) + 1 :]
        left = self.args.deadline - (time.monotonic() - self.t0)
        return max(10.0, min(cap, left - sum(RESERVE[s] for s in later if s in self.only)))

    def env(self, **extra) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def done(self, step: str, ok: bool, summary: str, seconds: float, **more) -> None:
        self.results["steps"][step] = {
            "ok": ok,
            "summary": summary,
            "seconds": round(seconds, 1),
            **more,
        }
        self.log(f"--- {step}: {'ok' if ok else 'FAILED'}: {summary} ({seconds:.0f} s)")

    @property
    def only(self) -> tuple:
        return tuple(s for s in STEPS if s in self.args.only.split(","))

    # -------------------------------------------------------------- steps

    def check_sources(self) -> bool:
        made = json.loads((Path(self.args.kit) / "manifest.json").read_text())
        self.results["kit"] = {k: v for k, v in made.items() if k != "files"}
        here = manifest.source_hash(Path(self.args.root))
        if here != made["source_hash"]:
            self.done(
                "sources",
                False,
                f"the kit was built from other sources ({made['source_hash']}, commit "
                f"{made['commit']}) than this tree ({here}): rebuild it with make gpu-kit",
                0,
            )
            return False
        return True

    def probe(self) -> bool:
        t, path = time.monotonic(), self.work / "probe.json"
        cmd = [sys.executable, HERE / "probe.py", "--json", path]
        cmd += ["--expect-gpu"] if self.args.expect_gpu else []
        rc, out = run_step(cmd, self.limit("probe"), self.log, self.env(), HERE)
        info = json.loads(path.read_text()) if path.exists() else {}
        self.results["probe"] = info
        reason = info.get("error") or (out.strip().splitlines() or ["no output"])[-1]
        ok = rc == 0 and "chosen" in info
        self.done("probe", ok, info.get("chosen", "") if ok else reason, time.monotonic() - t)
        return ok

    def start_torch_install(self) -> None:
        """--local: PyTorch CPU into its own folder, in the background while the tests run
        (the tests never see it: only the benchmarks put it on their path)."""
        target = self.work / "torch"
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--target", target]
        cmd += ["--index-url", TORCH_CPU_INDEX, "torch"]
        log = open(self.work / "torch-install.log", "w")  # noqa: SIM115  (closed in wait)
        self.torch_install = (subprocess.Popen(cmd, stdout=log, stderr=log), log, target)
        self.log(f"peer: installing PyTorch CPU in the background ({TORCH_CPU_INDEX})")

    def wait_torch(self) -> str | None:
        """The folder to add for PyTorch, or None (the peer column is dropped)."""
        if self.torch_install is None:
            return None
        proc, log, target = self.torch_install
        try:
            rc = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        log.close()
        if rc != 0:
            self.log(f"peer: PyTorch CPU not installable ({rc}; see torch-install.log): no peer")
            return None
        return str(target)

    def tests(self) -> None:
        t = time.monotonic()
        deselect = ["glslang"]  # the kit has no glslang, by design: run.sh hides it
        if not all(importlib.util.find_spec(m) for m in ("sklearn", "matplotlib")):
            deselect.append("extras")
        expr = "vulkan" + "".join(f" and not {m}" for m in deselect)
        counts = self.work / "deselected.json"
        cmd = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"]
        cmd += ["-p", "pytest_kit", "-m", expr, "-rfEs"]
        workers = self.args.workers
        if workers is None:
            # xdist where there are cores to spare; on 2 cores lavapipe's threads use them.
            cpus = os.cpu_count() or 1
            workers = min(cpus, 16) if cpus >= 4 and importlib.util.find_spec("xdist") else 0
        if workers:
            cmd += ["-n", str(workers)]
        env = self.env(VKGRAD_KIT_DESELECTED=counts)
        if not self.args.gpu_defaults:
            # The suite is written for CI's defaults, where lavapipe is never the default
            # device: the cpu and f32. On a GPU vkgrad's defaults are the GPU and f16, which
            # some 60 tests do not expect; pinned, every Vulkan case runs on the GPU with the
            # dtypes CI gives it.
            env.update(VKGRAD_DEVICE="cpu", VKGRAD_DTYPE="f32")
        rc, out = run_step(
            cmd, self.limit("tests"), self.log, env, Path(self.args.root), self.out / "tests.log"
        )
        summary = pytest_summary(out)
        failures = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        more = {
            "marker": expr,
            "defaults": "vkgrad's (--gpu-defaults)" if self.args.gpu_defaults else "cpu, f32",
            "deselected_by_marker": json.loads(counts.read_text()) if counts.exists() else {},
            "failures": failures[:50],
            "exit_status": rc,
        }
        text = summary or ("killed at the time limit" if rc == 124 else f"exit status {rc}")
        if rc == 124:
            text += " (killed at the time limit)"
        self.done("tests", rc == 0, text, time.monotonic() - t, **more)

    def race(self) -> None:
        t, path = time.monotonic(), self.work / "race.json"
        cmd = [sys.executable, HERE / "race.py", "--device", self.device, "--json", path]
        cmd += ["--sizes", "local" if self.args.local else "gpu"]
        rc, _ = run_step(cmd, self.limit("race"), self.log, self.env(), HERE)
        data = json.loads(path.read_text()) if path.exists() else {"checks": []}
        self.results["race"] = data
        checks = data["checks"]
        bad = [c for c in checks if c.get("error") or c.get("differing_runs")]
        runs = sum(c.get("replays", 0) + c.get("eager_runs", 0) for c in checks)
        if rc == 124:
            summary = f"killed at the time limit after {len(checks)} checks"
        elif bad:
            c = bad[0]
            summary = f"{len(bad)} of {len(checks)} checks differ; {c['model']} {c['dtype']}: "
            summary += c.get("error") or c["first_difference"]
        else:
            summary = f"{len(checks)} checks, {runs} runs, identical bits"
        self.done("race", rc == 0 and not bad, summary, time.monotonic() - t)

    def bench(self) -> None:
        t, path = time.monotonic(), self.work / "bench.json"
        torch_dir = self.wait_torch()
        env = self.env()
        if torch_dir:
            env["PYTHONPATH"] += os.pathsep + torch_dir
        limit = self.limit("bench")
        cmd = [sys.executable, HERE / "bench.py", "--device", self.device, "--json", path]
        cmd += ["--sizes", "local" if self.args.local else "gpu", "--budget", int(limit * 0.75)]
        rc, out = run_step(cmd, limit, self.log, env, HERE)
        data = json.loads(path.read_text()) if path.exists() else {}
        self.results["bench"] = data
        rows = data.get("train", []) + data.get("kernels", [])
        timed = sum(1 for r in rows if "ms" in r)
        summary = f"{timed} of {len(rows)} measurements"
        if rc != 0:
            summary += "; " + (out.strip().splitlines() or ["no output"])[-1]
        self.done("bench", rc == 0, summary, time.monotonic() - t)

    # -------------------------------------------------------------- the run

    def run(self) -> int:
        self.log(f"gpu-kit: {self.results['mode']} run, results to {self.out}")
        # The probe always runs: the other steps need the device it chooses.
        ok = self.check_sources() and self.probe()
        if ok:
            self.device = self.results["probe"]["chosen"]
            if self.args.local and "bench" in self.only:
                self.start_torch_install()
            for step in ("tests", "race", "bench"):
                if step in self.only:
                    getattr(self, step)()
        return self.finish()

    def finish(self) -> int:
        self.results["seconds"] = round(time.monotonic() - self.t0, 1)
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1))
        (self.out / "results.md").write_text(report.markdown(self.results))
        failed = {k: v for k, v in self.results["steps"].items() if not v["ok"]}
        verdict = (
            "gpu-kit: FAIL: " + "; ".join(f"{k}: {v['summary']}" for k, v in failed.items())
            if failed
            else "gpu-kit: PASS: " + ", ".join(self.results["steps"]) + f" in "
            f"{self.results['seconds']:.0f} s; results in {self.out}"
        )
        self.log(f"results: {self.out / 'results.md'}")
        (self.out / "run.log").write_text("\n".join([*self.log.lines, verdict]) + "\n")
        print(" ".join(verdict.split()), flush=True)  # one line, whatever the reasons held
        return 1 if failed else 0


def pytest_summary(out: str) -> str | None:
    """pytest's closing line without its decoration: ``12 passed, 3 skipped in 4.20s``."""
    for line in reversed(out.splitlines()):
        m = re.match(r"^=*\s*(\d+ \w+.* in [\d.]+s.*?)\s*=*$", line)
        if m:
            return m.group(1)
    return None


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="run.sh")
    ap.add_argument("--kit", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--local", action="store_true", help="lavapipe, small sizes (docs/gpu.md)")
    ap.add_argument("--out", help="results folder (default: $OUT, else build/gpu-kit-results)")
    ap.add_argument("--expect-gpu", dest="expect_gpu", action="store_true", default=None)
    ap.add_argument("--no-expect-gpu", dest="expect_gpu", action="store_false")
    ap.add_argument("--only", default=",".join(STEPS), help="steps to run, comma-separated")
    ap.add_argument("--deadline", type=float, default=450.0, help="seconds for a GPU run")
    ap.add_argument("--workers", type=int, help="pytest-xdist workers (default: one per core)")
    ap.add_argument(
        "--gpu-defaults",
        action="store_true",
        help="test with vkgrad's own default device and dtype, not CI's (cpu, f32)",
    )
    args = ap.parse_args(argv)
    # As the user typed it: run.sh passes its own three as --kit=..., --root=..., --work=...
    args.argv = [a for a in argv if not a.startswith(("--kit=", "--root=", "--work="))]
    if args.expect_gpu is None:
        args.expect_gpu = not args.local
    if args.out is None:
        args.out = os.environ.get("OUT") or str(Path(args.root) / "build" / "gpu-kit-results")
    return Kit(args).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
