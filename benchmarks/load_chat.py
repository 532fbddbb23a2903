"""Load benchmark for the chat: concurrent gradio_client callers of ``/ask`` on loopback.

Run:  .venv/bin/python benchmarks/load_chat.py [--clients 20] [--seconds 60]
                                                [--index DIR] [--port N] [--json]

Starts ``python -m rag serve`` on 127.0.0.1 (the bundled articles' index unless
--index), waits until it answers HTTP, then runs --clients threads, each with its
own ``gradio_client.Client``, asking the seed questions (eval/seed_questions.jsonl)
over and over through the public ``/ask`` endpoint until --seconds have passed
(at most 100,000 requests in all). A request is an error if it raises or comes
back without an answer text. Prints the machine, requests, requests/s, errors,
latency p50/p95/max and the server's resident memory (VmRSS) before and after the
load; --json prints the same as JSON. Exits 1 if any request failed. The server is
stopped at the end, also on Ctrl+C.

A benchmark, not a test: run it on a quiet machine. It talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

# Offline and loopback only: no telemetry from gradio_client, no proxy for 127.0.0.1.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1", "localhost"]))

from gradio_client import Client  # noqa: E402 - after the environment above

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # never anything else
MAX_REQUESTS = 100_000
START_TIMEOUT_S = 300.0  # the first serve of the bundled index may build it (about a minute)


# ---------------------------------------------------------------- helpers


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def proc_status_mb(pid: int, key: str) -> float | None:
    """A memory figure (``VmRSS``, ``VmHWM``) of process ``pid`` in MB, from /proc."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB -> MB (MiB)
    except (OSError, ValueError, IndexError):
        pass
    return None


def proc_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid``, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seed_questions() -> list[str]:
    path = REPO / "eval" / "seed_questions.jsonl"
    questions = [json.loads(line)["question"] for line in
                 path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not questions:
        raise SystemExit(f"no questions in {path}")
    return questions


# ---------------------------------------------------------------- the server


class Server:
    """``python -m rag serve`` on 127.0.0.1:port, its output kept in a log file."""

    def __init__(self, port: int, index: str | None) -> None:
        self.url = f"http://{HOST}:{port}/"
        self.log: TextIO = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        cmd = [sys.executable, "-m", "rag", "serve", "--host", HOST, "--port", str(port)]
        if index:
            cmd += ["--index", str(Path(index).resolve())]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self, lines: int = 20) -> str:
        self.log.flush()
        self.log.seek(0)
        return "".join(self.log.readlines()[-lines:])

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> float:
        """Poll the page until it answers 200; returns the seconds waited."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"rag serve exited with {self.proc.returncode}:\n"
                                 f"{self.output()}")
            try:
                with opener.open(self.url, timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise SystemExit(f"rag serve did not answer within {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        """Ctrl+C for the server (it closes the app), then SIGTERM, then a kill."""
        for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait_s)
        self.log.close()


# ---------------------------------------------------------------- the load


@dataclass
class Tally:
    """Shared by the client threads (guarded by ``lock``)."""

    deadline: float
    max_requests: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    started: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    abstained: int = 0
    error_samples: list[str] = field(default_factory=list)

    def claim(self) -> bool:
        """May one more request start? (before the deadline, under the cap)"""
        with self.lock:
            if (self.stop.is_set() or time.monotonic() >= self.deadline
                    or self.started >= self.max_requests):
                return False
            self.started += 1
            return True

    def error(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(message[:300])


def answer_of(result: Any) -> dict[str, Any] | None:
    """The answer dict of an ``/ask`` result (history, answer, box), if it has a text."""
    if isinstance(result, (list, tuple)) and len(result) == 3 and isinstance(result[1], dict):
        data: dict[str, Any] = result[1]
        if isinstance(data.get("text"), str) and data["text"].strip():
            return data
    return None


def client_loop(client: Client, questions: list[str], offset: int, tally: Tally) -> None:
    i = offset
    while tally.claim():
        question = questions[i % len(questions)]
        i += 1
        t0 = time.perf_counter()
        try:
            result = client.predict(question, [], api_name="/ask")
        except Exception as exc:  # any failure of the call counts as an error
            tally.error(f"{type(exc).__name__}: {exc}")
            continue
        elapsed_ms = (time.perf_counter() - t0) * 1000
        data = answer_of(result)
        if data is None:
            tally.error(f"no answer text for {question!r}: {str(result)[:200]}")
            continue
        with tally.lock:
            tally.latencies_ms.append(elapsed_ms)
            tally.abstained += bool(data.get("abstained"))


@dataclass
class Report:
    machine: str
    cores: int
    cpu: str
    load_1m_before: float
    load_1m_after: float
    clients: int
    seconds: float
    elapsed_s: float
    requests: int
    requests_per_s: float
    errors: int
    abstained: int
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    latency_ms_max: float | None
    server_rss_mb_before: float | None
    server_rss_mb_after: float | None
    server_rss_mb_peak: float | None
    server_cpu_percent: float | None
    client_cpu_percent: float
    server_start_s: float
    index: str
    error_samples: list[str]


def run(args: argparse.Namespace) -> Report:
    questions = seed_questions()
    load_before = os.getloadavg()[0]
    port = args.port or free_port()
    server = Server(port, args.index)
    clients: list[Client] = []
    try:
        start_s = server.wait_ready()
        for _ in range(args.clients):
            clients.append(Client(server.url, verbose=False, analytics_enabled=False))
        # One call before measuring: the first answer through the queue is not load.
        if answer_of(clients[0].predict(questions[0], [], api_name="/ask")) is None:
            raise SystemExit("the warm-up /ask call returned no answer")
        time.sleep(1.0)
        rss_before = proc_status_mb(server.pid, "VmRSS")
        server_cpu_before = proc_cpu_s(server.pid)
        client_cpu_before = time.process_time()

        tally = Tally(deadline=time.monotonic() + args.seconds, max_requests=MAX_REQUESTS)
        threads = [
            threading.Thread(target=client_loop, name=f"client-{n}", daemon=True,
                             args=(c, questions, n * len(questions) // args.clients, tally))
            for n, c in enumerate(clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.5)
        except KeyboardInterrupt:
            tally.stop.set()  # let the requests in flight finish (briefly) before stopping
            give_up = time.monotonic() + 5
            for thread in threads:
                thread.join(timeout=max(0.0, give_up - time.monotonic()))
            raise
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu_before
        server_cpu_after = proc_cpu_s(server.pid)
        rss_after = proc_status_mb(server.pid, "VmRSS")
        rss_peak = proc_status_mb(server.pid, "VmHWM")
    finally:
        for client in clients:
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()
        server.stop()

    lat = tally.latencies_ms
    requests = len(lat) + tally.errors
    return Report(
        machine=f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        cores=os.cpu_count() or 0, cpu=cpu_model(),
        load_1m_before=round(load_before, 2), load_1m_after=round(os.getloadavg()[0], 2),
        clients=args.clients, seconds=args.seconds, elapsed_s=round(elapsed, 2),
        requests=requests, requests_per_s=round(requests / elapsed, 2) if elapsed else 0.0,
        errors=tally.errors, abstained=tally.abstained,
        latency_ms_p50=round(statistics.median(lat), 1) if lat else None,
        latency_ms_p95=round(percentile(lat, 0.95), 1) if lat else None,
        latency_ms_max=round(max(lat), 1) if lat else None,
        server_rss_mb_before=_mb(rss_before), server_rss_mb_after=_mb(rss_after),
        server_rss_mb_peak=_mb(rss_peak),
        server_cpu_percent=(None if server_cpu_before is None or server_cpu_after is None
                            else round(100 * (server_cpu_after - server_cpu_before) / elapsed, 1)),
        client_cpu_percent=round(100 * client_cpu / elapsed, 1), server_start_s=round(start_s, 1),
        index=args.index or "bundled", error_samples=tally.error_samples,
    )


def _mb(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _fmt(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"


def print_report(r: Report) -> None:
    print(f"machine:      {r.cores} cores ({r.cpu}), {r.machine}")
    print(f"index:        {r.index} (server ready in {r.server_start_s:.1f} s)")
    print(f"clients:      {r.clients} concurrent gradio_client callers of /ask")
    print(f"duration:     {r.seconds:g} s asked ({r.elapsed_s:.1f} s until the last answer)")
    print(f"requests:     {r.requests} ({r.requests_per_s:.1f}/s; {r.abstained} abstained)")
    print(f"errors:       {r.errors}")
    print(f"latency:      p50 {_fmt(r.latency_ms_p50, 'ms')}, p95 {_fmt(r.latency_ms_p95, 'ms')},"
          f" max {_fmt(r.latency_ms_max, 'ms')}")
    print(f"server RSS:   before {_fmt(r.server_rss_mb_before, 'MB')}, after "
          f"{_fmt(r.server_rss_mb_after, 'MB')} (peak {_fmt(r.server_rss_mb_peak, 'MB')})")
    server_cpu = "n/a" if r.server_cpu_percent is None else f"{r.server_cpu_percent:.0f}%"
    print(f"CPU:          server {server_cpu}, clients {r.client_cpu_percent:.0f}% "
          f"(100% = one core)")
    print(f"load average: {r.load_1m_before:.2f} before, {r.load_1m_after:.2f} after (1 min)")
    for sample in r.error_samples:
        print(f"  error: {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to ask (60)")
    parser.add_argument("--index", metavar="DIR", help="index folder (default: bundled)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 1000:
        parser.error("--clients must be from 1 to 1000")
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds must be above 0 and at most 3600")
    if args.port and not 1 <= args.port <= 65535:
        parser.error("--port must be from 1 to 65535")
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print_report(report)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
