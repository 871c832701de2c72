"""PostgreSQL's programs for the embedded stack, and as root the copy `nobody` can reach.

The programs come from the ``pgserver`` wheel (or the machine's own PostgreSQL). PostgreSQL
refuses to run as root, so as root it runs as ``nobody``; when the programs lie where
``nobody`` cannot reach them (the wheel inside a clone's ``.venv`` under a ``0700`` home), they
are copied once to ``/var/tmp/webmon-postgres/pginstall-<hash of their folder>/``. The hash
is of the installation's path, so each clone (each ``.venv``) has its own copy, and
:func:`remove_copy` (``make clean``) deletes that clone's copy and no other.
``/var/tmp/webmon-postgres`` is created ``0755`` and used only when it is a directory owned by
root that no one else can write to. We create no system users.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

# Where PostgreSQL's files live when we are root.
ROOT_RUNTIME_DIR = Path("/var/tmp/webmon-postgres")
# The parts of a PostgreSQL installation the server needs (not its C headers).
_INSTALL_PARTS = ("bin", "lib", "share")
_COPY_PREFIX = "pginstall-"
EXTRA_HINT = "install the local extra: pip install -e '.[local]'"


class LocalStackError(RuntimeError):
    """A local-stack failure, with a message meant for humans."""


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # does not import it (pgserver warns on import)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def pg_bindir() -> Path:
    """The folder of initdb, pg_ctl and postgres: the wheel's, else the machine's."""
    package = package_dir("pgserver")
    candidates = [package / "pginstall" / "bin"] if package else []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidates.append(Path(out.stdout.strip()))
    system = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(system, key=lambda p: p.parent.name.zfill(4), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise LocalStackError(f"PostgreSQL binaries not found; {EXTRA_HINT}")


def pg_owner() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as when we are root; None means the current user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise LocalStackError("PostgreSQL refuses root and there is no user 'nobody'") from None


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def traversable(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` can reach `path` (every directory on the way lets it through)."""
    for directory in (path, *path.parents):
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        else:  # our processes run with extra_groups=[]
            bit = stat.S_IXGRP if st.st_gid == user.pw_gid else stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def root_runtime_dir() -> Path:
    """ROOT_RUNTIME_DIR, created if missing; refused unless root owns it and only root can
    write to it (someone else's directory there could swap our files)."""
    with contextlib.suppress(FileExistsError):
        ROOT_RUNTIME_DIR.mkdir(mode=0o755)
    st = os.lstat(ROOT_RUNTIME_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise LocalStackError(
            f"{ROOT_RUNTIME_DIR} must be a directory owned by root that no one else can write to"
        )
    if st.st_mode & 0o005 != 0o005:
        ROOT_RUNTIME_DIR.chmod(0o755)
    return ROOT_RUNTIME_DIR


def copy_dir(bindir: Path) -> Path:
    """Where the copy of the installation of `bindir` goes (whether or not it exists)."""
    return ROOT_RUNTIME_DIR / f"{_COPY_PREFIX}{short_hash(str(bindir.parent))}"


def reachable_bindir(bindir: Path, user: pwd.struct_passwd) -> Path:
    """`bindir` if `user` can reach it, else that of a copy of its installation under the
    root runtime directory (made once, then reused).

    The copy keeps the installation's place relative to the shared libraries a wheel
    ships beside its package (`pgserver.libs/`, found through `$ORIGIN/../../../`):
    `<copy>/pgserver/pginstall/bin` and `<copy>/pgserver.libs`.
    """
    if traversable(bindir, user):
        return bindir
    prefix = bindir.parent  # .../site-packages/pgserver/pginstall
    package = prefix.parent  # .../site-packages/pgserver
    root_runtime_dir()
    target = copy_dir(bindir)
    installed = target / package.name / prefix.name
    if (installed / "bin" / "postgres").is_file():
        return installed / "bin"
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o755)
    for part in _INSTALL_PARTS:
        if (prefix / part).is_dir():
            shutil.copytree(prefix / part, staging / package.name / prefix.name / part)
    for libs in package.parent.glob(f"{package.name}*.libs"):
        shutil.copytree(libs, staging / libs.name)
    for directory in (staging, *staging.rglob("*")):
        if directory.is_dir():
            directory.chmod(0o755)
    try:
        staging.rename(target)
    except OSError:  # another process made the same copy first
        shutil.rmtree(staging, ignore_errors=True)
    return installed / "bin"


def remove_copy() -> Path | None:
    """Delete the copy made for this installation's programs (`make clean`); returns what
    it deleted. Copies of other clones' programs stay: their hash differs."""
    try:
        bindir = pg_bindir()
    except LocalStackError:
        return None
    target = copy_dir(bindir)
    if os.geteuid() != 0 or not target.is_dir() or target.is_symlink():
        return None
    shutil.rmtree(target)
    return target
