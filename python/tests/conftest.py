"""Fixtures of the whycache pytest suite: fresh state files and logs, and a MariaDB server."""
import os
import random
import shutil
import subprocess
import tempfile
import traceback
import zlib

import pytest

import whycache


@pytest.fixture
def paths(tmp_path):
    """A state path under /dev/shm (as in production) and a file log directory, both fresh."""
    shm = tempfile.mkdtemp(prefix="whycache-py-", dir="/dev/shm")
    yield {"state": os.path.join(shm, "test.state"), "log": f"file:{tmp_path / 'log'}",
           "dir": tmp_path}
    shutil.rmtree(shm, ignore_errors=True)


@pytest.fixture
def cache(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True) as c:
        yield c


def _script():
    root = os.environ.get("WHYCACHE_TEST_ROOT", "")
    path = os.path.join(root, "bazel", "mariadb-test-server.sh")
    if not os.path.exists(path):
        pytest.fail(f"no MariaDB test server script at {path}")
    return path


@pytest.fixture(scope="session")
def mariadb():
    """Settings of a MariaDB server: the one named by MDB_HOST and friends, else a throwaway
    one started for this test run (stopped at its end, and by a watcher if this process dies).
    A test that needs a server and cannot get one fails."""
    if os.environ.get("MDB_HOST"):
        settings = {k: os.environ.get(k, "") for k in
                    ("MDB_HOST", "MDB_PORT", "MDB_USER", "MDB_PASS", "MDB_DB")}
        os.environ["WHYCACHE_MYSQL_PASSWORD"] = settings["MDB_PASS"]
        yield settings
        return
    # The socket lives in this directory and AF_UNIX paths are short.
    directory = tempfile.mkdtemp(prefix="whycache-pymdb-", dir="/tmp")
    env = dict(os.environ, MDB_OWNER_PID=str(os.getpid()),
               MDB_PORT=str(20000 + random.randrange(30000)))
    env.pop("LD_PRELOAD", None)  # A sanitizer runtime preloaded for the extension.
    started = subprocess.run(["bash", _script(), "start", directory], env=env,
                             capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.fail(f"cannot start MariaDB for the tests:\n{started.stderr}")
    settings = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    os.environ["WHYCACHE_MYSQL_PASSWORD"] = settings["MDB_PASS"]
    try:
        yield settings
    finally:
        subprocess.run(["bash", _script(), "stop", directory], env=env, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def mysql_uri(mariadb, request):
    """A log URI of a table of its own for each test (table prefixes are at most 32 bytes)."""
    table = f"py_{zlib.crc32(request.node.nodeid.encode()):08x}"
    return (f"mysql://{mariadb['MDB_USER']}@{mariadb['MDB_HOST']}:{mariadb['MDB_PORT']}/"
            f"{mariadb['MDB_DB']}?table={table}")


def run_in_child(body):
    """Runs body() in a forked child; returns its exit status: 0 when body returned True, 3 when
    it returned False, 2 when it raised (the traceback goes to stderr)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if body() else 3
        except BaseException:  # noqa: BLE001 - reported through the exit status
            traceback.print_exc()
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
