"""`superpose ... --processes N`: one command as N local processes, the way a cluster runs it on N hosts.

The launcher starts N copies of the same command line, each told the coordinator's address, the process
count and its own id (superpose.train.processes), and waits for them. When one fails (an error, a kill), it
stops the others at once, so a run never hangs on a missing peer, and exits with the failed one's status;
running the command again resumes from the last checkpoint. On a CPU each process gets an equal share of the
cores as its JAX devices.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from superpose.train import processes

STOP_SECONDS = 10.0
"""How long a process that is told to stop (SIGTERM) may take before it is killed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(n: int, command: Sequence[str]) -> int:
    """Run `command` (a program and its arguments) as `n` local processes; the exit status of the first that
    fails, else 0."""
    address = f"127.0.0.1:{_free_port()}"
    shared = {processes.COORDINATOR: address, processes.PROCESSES: str(n)}
    if "JAX_NUM_CPU_DEVICES" not in os.environ and "device_count" not in os.environ.get("XLA_FLAGS", ""):
        shared["JAX_NUM_CPU_DEVICES"] = str(max(1, (os.cpu_count() or 1) // n))
    children = [
        subprocess.Popen(
            list(command),
            env={**os.environ, **shared, processes.PROCESS_ID: str(i)},
            stdout=subprocess.PIPE if i == 0 else subprocess.DEVNULL,  # only process 0 reports
            text=True,
        )
        for i in range(n)
    ]
    threading.Thread(target=_forward, args=(children[0].stdout,), daemon=True).start()
    try:
        while True:
            codes = [child.poll() for child in children]
            failed = [code for code in codes if code not in (None, 0)]
            if failed:
                _stop(children)
                return failed[0]
            if all(code == 0 for code in codes):
                return 0
            time.sleep(0.1)
    except KeyboardInterrupt:  # the terminal sent SIGINT to every child too: they save and stop
        _stop(children, first=None)
        return 130
    finally:
        _stop(children)


def _forward(lines) -> None:
    """Process 0's output, less the line each of Gloo's CPU collectives prints when it connects."""
    for line in lines:
        if not line.startswith("[Gloo]"):
            sys.stdout.write(line)
            sys.stdout.flush()


def _stop(children: list[subprocess.Popen], first: signal.Signals | None = signal.SIGTERM) -> None:
    """Ask every running child to stop (`first`, if any), and kill those still running `STOP_SECONDS`
    later."""
    if first is not None:
        for child in children:
            if child.poll() is None:
                child.send_signal(first)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m superpose.app.launch N PROGRAM [ARGS...]`: any program (a script of your own that calls
    `superpose.train.processes.join()` before JAX computes) as N local processes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: python -m superpose.app.launch N PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    return spawn(int(argv[0]), argv[1:])


def command_fingerprint(argv: Sequence[str]) -> str:
    """What every process of one run must share: the command line, the study file it names, the $SUPERPOSE_
    settings (but the process's own id and its compilation cache), the versions that set the results' bits,
    and the source of superpose and of the installed experiment packages."""
    from superpose import processor

    own = {processes.PROCESS_ID, "SUPERPOSE_COMPILATION_CACHE"}
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("SUPERPOSE_") and k not in own)
    digest = hashlib.sha256(repr((list(argv), settings)).encode())
    digest.update(repr(processor.versions("jax", "jaxlib", "numpy", "optax", "flax")).encode())
    for name in argv:
        if name.endswith((".toml", ".json")) and Path(name).is_file():
            digest.update(Path(name).read_bytes())
    import superpose
    from superpose.app.experiment import packages

    for package in (superpose, *packages()):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
