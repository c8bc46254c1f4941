"""The server half of :mod:`tests.upgrade.program_runner` (run as a script, standard library only until the prelude).

``python zygote.py PRELUDE_FILE``: executes the prelude (a program's own leading statements, its bootstrap, then
the caller's ``before`` code), then ``import tensorflow``, writes ``READY`` and serves one JSON request per stdin
line: fork, and in the child run the request's script as ``python SCRIPT`` would (``__main__``, ``sys.argv``,
``sys.path[0]``, working directory, stdin from /dev/null, stdout/stderr to the request's files, the normal
interpreter exit); the parent answers ``{"returncode": N}`` (``-9`` after killing a child that ran past the
request's timeout).
"""
import json
import os
import runpy
import sys
import time


def _child(request: dict) -> None:
    """In the forked child: become ``python SCRIPT`` and never return (the normal interpreter exit ends it)."""
    os.chdir(request["cwd"])
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.argv = [request["script"]]
    sys.path[0] = os.path.dirname(os.path.abspath(request["script"]))
    runpy.run_path(request["script"], run_name="__main__")
    sys.exit(0)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return -9
        time.sleep(0.02)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        prelude = f.read()
    exec(compile(prelude, "<prelude>", "exec"), {"__name__": "__prelude__"})
    import tensorflow  # noqa: F401  (the import every served program makes next, under the prelude's settings)

    channel = sys.stdout
    channel.write("READY\n")
    channel.flush()
    for line in sys.stdin:
        request = json.loads(line)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        channel.write(json.dumps({"returncode": _wait(pid, request["timeout"])}) + "\n")
        channel.flush()
    os._exit(0)  # stdin closed: nothing of the zygote's own to flush (TensorFlow's slow interpreter exit skipped)


if __name__ == "__main__":
    main()
