"""Vendored front-end files: fetch them from the npm registry by name and version, check
them against `webmon/web/static/vendor/VENDORED.json`, or record a new version there.

    python -m devstack.vendor check     # every file is there, with its SHA-256 and licence
    python -m devstack.vendor fetch     # `npm pack` each package again and compare

No Node build and no CDN at run time: the files are committed into the package, each in a
folder named after its package and version, with the package's licence beside it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "webmon" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "VENDORED.json"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check() -> list[str]:
    """Problems with the vendored files; none when they are as the manifest says."""
    problems = []
    for entry in json.loads(MANIFEST.read_text()):
        folder = VENDOR / f"{entry['package']}-{entry['version']}"
        for name, digest in entry["files"].items():
            path = folder / name
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif sha256(path) != digest:
                problems.append(f"{path} differs from what was vendored")
        if not (folder / entry["licence_file"]).is_file():
            problems.append(f"{folder} has no licence file")
    return problems


def fetch() -> list[str]:
    """Fetch each package's tarball again, check its npm integrity, compare the files."""
    problems = []
    for entry in json.loads(MANIFEST.read_text()):
        spec = f"{entry['package']}@{entry['version']}"
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True)
            tarball = next(Path(tmp).glob("*.tgz"))
            algorithm, expected = entry["integrity"].split("-", 1)
            actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest())
            if actual.decode() != expected:
                problems.append(f"{spec}: the registry's tarball is not the one vendored")
                continue
            with tarfile.open(tarball) as archive:
                archive.extractall(tmp, filter="data")
            for name, digest in entry["files"].items():
                source = Path(tmp) / "package" / entry["paths"].get(name, name)
                if sha256(source) != digest:
                    problems.append(f"{spec}: {name} differs from the registry's")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.vendor", description=__doc__)
    parser.add_argument("command", choices=["check", "fetch"])
    args = parser.parse_args(argv)
    problems = check() if args.command == "check" else fetch()
    for problem in problems:
        print(f"vendor: {problem}", file=sys.stderr)
    if not problems:
        print("vendor: every vendored file is as recorded")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
