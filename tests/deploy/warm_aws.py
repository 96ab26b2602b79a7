"""The AWS CLI with its imports paid once: a test-only launcher for the deploy tests.

Why: every `aws` process spends most of its time importing the CLI (awscli, botocore,
their customizations) before it sends one request; on the 2-core test machine that is
0.6 to 1.5 s a call, and a `deploy.sh` run makes over a hundred calls. Here a server
process imports the CLI once; each `aws` call is then a fork of it that runs the CLI's
own entry script (`runpy`, unchanged) with the caller's arguments, environment, working
directory and standard streams (passed as file descriptors), and answers the caller's
exit status. What runs is the installed AWS CLI, its code and its requests unchanged;
what is saved is the interpreter start and the imports (about two thirds of a call).

Test-only, like aws_outputs_shim.py and moto_launcher.py: nothing in the product knows
of it. `install` writes an `aws` client into a directory the deploy tests put first on
PATH (tests/deploy/aws_cli.py), so deploy.sh and the tests' own calls both use it; the
client runs the real `aws` itself when the server is not there. INFRA_TEST_COLD_AWS=1
makes the client the plain `aws` of this virtualenv (a process per call, as before);
test_warm_aws.py holds the two to the same output, errors and exit status.

Where a warm call is not the process a cold one would be (none of it is anything
deploy.sh does): killing the client does not stop the call (the fork is the server's
child, not the caller's); process limits, the locale and PYTHON* variables are the
server's; a traceback shows this file's frames as well. The server itself runs with an
empty HOME and no AWS_* variables (`start`): the CLI reads some files from HOME when it
is imported (its aliases), and the deploy tests give every call an empty HOME of its own.

Run as `python tests/deploy/warm_aws.py SOCKET AWS_SCRIPT` (what `start` does).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path

COLD_ENV = "INFRA_TEST_COLD_AWS"
READY_TIMEOUT_S = 60

# The client: as small as a Python program gets (-I: no user site or PYTHON* variables;
# -S: no site import), so a call costs a fork, not an interpreter's imports. A request
# is one message: its length, then JSON {argv, env, cwd}, with the caller's stdin, stdout
# and stderr attached; the answer is the exit status (4 bytes).
_CLIENT = '''#!{python} -IS
"""Test-only `aws`: runs the real AWS CLI in a fork of a warm server (see {module})."""
import json, os, socket, struct, sys
umask = os.umask(0)
os.umask(umask)
try:
    cwd = os.getcwd()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect({socket_path!r})
except OSError:  # no server (stopped, or not started), or a deleted working directory:
    os.execv({python!r}, [{python!r}, {aws!r}, *sys.argv[1:]])  # the CLI on its own
request = json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "cwd": cwd, "umask": umask}})
data = request.encode("utf-8", "surrogateescape")
socket.send_fds(server, [struct.pack("!I", len(data))], [0, 1, 2])
server.sendall(data)
answer = b""
while len(answer) < 4:
    chunk = server.recv(4 - len(answer))
    if not chunk:
        sys.stderr.write("warm aws: the server closed the connection without a status\\n")
        sys.exit(255)
    answer += chunk
sys.exit(struct.unpack("!i", answer)[0])
'''


def install(bin_dir: Path, aws_script: str, socket_path: Path | None) -> Path:
    """An `aws` in `bin_dir` for the deploy tests' PATH: the warm client for the server
    on `socket_path`, or (None, or INFRA_TEST_COLD_AWS=1) the virtualenv's own `aws`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    client = bin_dir / "aws"
    if socket_path is None or os.environ.get(COLD_ENV) == "1":
        client.symlink_to(aws_script)
        return client
    client.write_text(
        _CLIENT.format(
            python=sys.executable, module=__file__, socket_path=str(socket_path), aws=aws_script
        ),
        encoding="utf-8",
    )
    client.chmod(0o755)
    return client


def start(socket_path: Path, aws_script: str, log: Path) -> subprocess.Popen | None:
    """The server, ready to answer; None when INFRA_TEST_COLD_AWS=1 (no server)."""
    if os.environ.get(COLD_ENV) == "1":
        return None
    # Here, not at the top: this file also runs as the server's script, outside the package.
    from .emulator import _die_with_parent  # no server outlives the session that started it

    home = socket_path.parent / "home"
    home.mkdir(exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["HOME"] = str(home)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, __file__, str(socket_path), aws_script],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"warm aws server did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the server ------------------------------------------------------------------------


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    header, fds, _, _ = socket.recv_fds(connection, 4, 3)
    if len(header) < 4 or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ConnectionError("a request without its header and three streams")
    try:
        (length,) = struct.unpack("!I", header)
        data = b""
        while len(data) < length:
            chunk = connection.recv(length - len(data))
            if not chunk:
                raise ConnectionError("a request cut short")
            data += chunk
        return json.loads(data.decode("utf-8", "surrogateescape")), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def _run_cli(request: dict, fds: list[int], aws_script: str) -> int:
    """In the fork: become the `aws` process the caller would have started, run the
    CLI's entry script, and end as its interpreter would (exit status, atexit, flush)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # the caller's TZ, as a new interpreter reads it
    # What importing awscli does with the environment (awscli/__init__.py): its data
    # directory appended to the caller's AWS_DATA_PATH.
    data_paths = [
        os.path.expanduser(os.path.expandvars(path))
        for path in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep)
        if path
    ]
    os.environ["AWS_DATA_PATH"] = os.pathsep.join([*data_paths, _AWSCLI_DATA])
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=stream.isatty())
    sys.argv = [aws_script, *request["argv"]]
    try:
        runpy.run_path(aws_script, run_name="__main__")
        code = 0
    except SystemExit as exit_:
        code = _exit_status(exit_.code)
    except BaseException:  # noqa: BLE001 - what the interpreter does with it
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe: the interpreter's 120
            code = 120
    return code


def _exit_status(code: object) -> int:
    """sys.exit's argument as the process's exit status, as the interpreter maps it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def serve(socket_path: Path, aws_script: str) -> None:
    # As when the entry script runs: its directory first on sys.path, not this one's.
    sys.path[0] = str(Path(aws_script).parent)
    # The imports every call would make: the entry script's, the CLI's handlers (with the
    # customizations they import) and the botocore parts a client is built from.
    import awscli.clidriver
    import awscli.handlers  # noqa: F401
    import botocore.client  # noqa: F401

    global _AWSCLI_DATA
    _AWSCLI_DATA = str(Path(awscli.clidriver.__file__).parent / "data")
    waiting: dict[int, socket.socket] = {}  # fork's PID -> its caller's connection
    wakeup_read, wakeup_write = socket.socketpair()
    wakeup_write.setblocking(False)
    signal.set_wakeup_fd(wakeup_write.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    partial = socket_path.with_name(socket_path.name + ".starting")
    listener.bind(str(partial))
    listener.listen(64)
    partial.rename(socket_path)  # appears only once it accepts connections
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wakeup_read, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is wakeup_read:
                wakeup_read.recv(4096)
                _reap(waiting)
                continue
            connection, _ = listener.accept()
            try:
                request, fds = _receive(connection)
            except (OSError, ValueError) as error:
                print(f"warm aws: bad request: {error}", file=sys.stderr, flush=True)
                connection.close()
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                listener.close()
                connection.close()
                os._exit(_run_cli(request, fds, aws_script))
            for fd in fds:
                os.close(fd)
            waiting[pid] = connection
            # What ran here, for test_warm_aws.py (and for a look when a call hangs).
            print(pid, *request["argv"][:2], flush=True)
        _reap(waiting)


def _reap(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = waiting.pop(pid, None)
        if connection is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        # Killed by a signal: the status a shell reports for it.
        code = 128 - code if code < 0 else code
        try:
            connection.sendall(struct.pack("!i", code))
        except OSError:
            pass  # the caller is gone
        connection.close()


_AWSCLI_DATA = ""

if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2])
