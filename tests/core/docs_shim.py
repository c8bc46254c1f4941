"""The ``rnn-migrate`` of the docs-as-tests runner (tests/core/test_docs.py): the commands a doc block types that only
compute a result (``SERVED``) are answered by the test process's own ``migration.cli.main`` (``run_cli_in_process``:
same arguments, working directory, stdout, stderr and exit code) instead of a fresh interpreter importing TensorFlow
(and, for convert/verify/export, a fresh sandbox child importing it again): about 5 CPU seconds saved per command.
Everything else (``run``, whose script must not run inside the test process; ``--help``; a block that sets an
``RNN_MIGRATE_*`` or ``TF_*`` variable the test process does not have) still runs ``python -m migration``. Process
start-up of the real entry point is tested in tests/core/test_quiet_commands.py and tests/examples/test_ux_examples.py.

The block's shell talks to the test process over a UNIX socket: one JSON line ``{"argv", "cwd"}`` in, one JSON
object ``{"stdout", "stderr", "code"}`` back. The test process serves while it waits for the block (in its main
thread: commands install signal handlers)."""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.ux import run_cli_in_process

SERVED = ("inspect", "convert", "verify", "export", "example")
SOCKET_ENV, EXPECTED_ENV = "RNN_MIGRATE_DOCS_SOCKET", "RNN_MIGRATE_DOCS_ENV"

CLIENT = f"""import json, os, socket, sys
argv = sys.argv[1:]
mine = {{k: v for k, v in os.environ.items()
        if k.startswith(("RNN_MIGRATE", "TF_")) and k not in {(SOCKET_ENV, EXPECTED_ENV)!r}}}
served = (os.environ.get({SOCKET_ENV!r}) and argv and argv[0] in {SERVED!r} and "-h" not in argv
          and "--help" not in argv and mine == json.loads(os.environ.get({EXPECTED_ENV!r}, "null")))
if not served:
    os.execv(sys.executable, [sys.executable, "-m", "migration", *argv])
with socket.socket(socket.AF_UNIX) as s:
    s.connect(os.environ[{SOCKET_ENV!r}])
    s.sendall(json.dumps({{"argv": argv, "cwd": os.getcwd()}}).encode() + b"\\n")
    data = b""
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        data += chunk
reply = json.loads(data)
sys.stdout.write(reply["stdout"])
sys.stdout.flush()
sys.stderr.write(reply["stderr"])
sys.exit(reply["code"])
"""


def install(bin_dir: Path, env: dict[str, str]) -> socket.socket:
    """Write the ``rnn-migrate`` shim into ``bin_dir`` and return the listening socket it talks to (``env`` gets the
    variables the shim reads)."""
    shim = bin_dir / "rnn-migrate"
    shim.write_text(f"#!{sys.executable}\n" + CLIENT)
    shim.chmod(0o755)
    path = str(bin_dir / "cli.sock")
    if len(path) > 100:  # sun_path holds 108 bytes
        path = os.path.join(tempfile.mkdtemp(prefix="rnn-migrate-docs-"), "cli.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)
    env[SOCKET_ENV] = path
    env[EXPECTED_ENV] = json.dumps({k: v for k, v in env.items()
                                    if k.startswith(("RNN_MIGRATE", "TF_")) and k not in (SOCKET_ENV, EXPECTED_ENV)})
    return server


def _answer(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(60)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1 << 16)
            if not chunk:
                return
            data += chunk
        request = json.loads(data)
        proc = run_cli_in_process(*request["argv"], cwd=request["cwd"])
        conn.sendall(json.dumps({"stdout": proc.stdout, "stderr": proc.stderr, "code": proc.returncode}).encode())


def run(argv: list[str], cwd: Path, env: dict[str, str], server: socket.socket,
        timeout: float) -> tuple[subprocess.CompletedProcess, int]:
    """``subprocess.run(argv, capture_output=True, text=True, timeout=timeout)`` while answering the shim; returns the
    process and how many commands were answered in this process."""
    answered = 0
    deadline = time.monotonic() + timeout
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        # the pipes are drained by threads, so a chatty block never blocks on a full pipe
        out: dict[str, str] = {}
        readers = [threading.Thread(target=lambda k, f: out.__setitem__(k, f.read()), args=(k, f), daemon=True)
                   for k, f in (("stdout", proc.stdout), ("stderr", proc.stderr))]
        for t in readers:
            t.start()
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(argv, timeout)
            if select.select([server], [], [], 0.05)[0]:
                conn, _ = server.accept()
                _answer(conn)
                answered += 1
        for t in readers:
            t.join()
    return subprocess.CompletedProcess(argv, proc.returncode, out.get("stdout", ""), out.get("stderr", "")), answered
