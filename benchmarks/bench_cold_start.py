"""Benchmark: `rag ask` from a cold process, wall time and peak memory.

Run:  .venv/bin/python benchmarks/bench_cold_start.py [--runs N] [--index DIR]
                                                     [--question TEXT] [--source DIR]

Runs `python -m rag ask QUESTION --index DIR` as a fresh subprocess N times
(default 7) after one unmeasured run (it fills the page cache, and makes the
model's ONNX export if the index predates it), and prints the median, min and
max wall time and peak RSS (the child's own, from wait4), with the machine and
its load average, which on a shared 2-core machine moves the figures a lot.
The index defaults to the bundled articles' (built first if missing).
``--source DIR`` runs another checkout of rag (say, an older commit exported
with `git archive`) for a before/after comparison. All runs must print the same
answer and nothing on stderr. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

REPO = Path(__file__).resolve().parents[1]
QUESTION = "By how much did Chinese exports to North Korea rise in September?"


def run_once(command: list[str], env: dict[str, str],
             cwd: Path) -> tuple[float, float, float, int, str, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB, exit status, stdout
    and stderr of one run in
    ``cwd`` (``python -m`` puts it first on the path: it picks the rag that runs)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 env=env, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                child.returncode,
                out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--index", help="index folder (default: the bundled articles' index)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--source", metavar="DIR",
                        help="run the rag package found in DIR instead of this checkout's")
    args = parser.parse_args()

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    source = Path(args.source).resolve() if args.source else REPO
    env["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [env.get("PYTHONPATH")])])
    if args.index:
        index = Path(args.index)
    else:
        index = Path(subprocess.run(
            [sys.executable, "-c", "import rag; print(rag.default_index_dir())"], env=env,
            check=True, capture_output=True, text=True, cwd=source).stdout.strip())
    if not (index / "CURRENT").is_file():
        print(f"building the bundled articles' index in {index} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "rag", "build", "--index", str(index), "--quiet"],
                       env=env, check=True, cwd=source)

    command = [sys.executable, "-m", "rag", "ask", args.question, "--index", str(index)]
    print(f"machine: {describe()}")
    print(f"command: {' '.join(command[:4])} {args.question!r} --index {index}")
    print(f"source:  {source}")
    check = subprocess.run([sys.executable, "-c", "import rag; print(rag.__file__)"], env=env,
                           cwd=source, capture_output=True, text=True, check=True).stdout
    if not Path(check.strip()).is_relative_to(source):
        print(f"rag would be imported from {check.strip()}, not {source}", file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    first = run_once(command, env, source)  # unmeasured: page cache, a missing ONNX export
    if first[3] != 0:
        print(f"rag ask failed ({first[3]}):\n{first[5]}", file=sys.stderr)
        return 1
    seconds: list[float] = []
    cpu: list[float] = []
    rss: list[float] = []
    outputs, noise = set(), set()
    for _ in range(args.runs):
        wall, used, peak, status, out, err = run_once(command, env, source)
        if status != 0:
            print(f"rag ask failed ({status}):\n{err}", file=sys.stderr)
            return 1
        seconds.append(wall)
        cpu.append(used)
        rss.append(peak)
        outputs.add(out)
        if err.strip():
            noise.add(err.strip())
    load_after = os.getloadavg()
    print(f"runs:    {args.runs} cold processes (after one unmeasured)")
    print(f"wall:    median {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s, "
          f"max {max(seconds):.2f} s")
    print(f"CPU:     median {statistics.median(cpu):.2f} s (user + system; moves less with "
          f"the load)")
    print(f"peak RSS: median {statistics.median(rss):.0f} MB, min {min(rss):.0f} MB, "
          f"max {max(rss):.0f} MB")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"on {os.cpu_count()} cores")
    print(f"answers: {'all the same' if len(outputs) == 1 else f'{len(outputs)} different'}; "
          f"stderr: {'empty' if not noise else 'NOT empty: ' + next(iter(noise))[:200]!s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
