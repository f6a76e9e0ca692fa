"""Build the deployable package: ``build/template.json`` and the ``build/deployment.zip`` it points at.

    python -m infra.build [--out build] [--stage dev]

1. ``chalice package --pkg-format cloudformation --merge-template infra/merge-template.json`` runs in a
   subprocess of this interpreter (the Lambda runtime is the Python that packages, so this must be the
   runtime's Python: 3.11). Chalice keeps the built dependency zip under ``.chalice/deployments`` keyed
   by a hash of requirements.txt, app.py and vendor/ (``vendor/functions -> ../functions``), so an
   unchanged tree is packaged in under a second; only older cache entries beyond the newest few are
   pruned.
2. The template: every function's ``CodeUri`` is ``./deployment.zip`` (beside the template, ready for
   ``aws cloudformation package``), and the Cognito authorizer's placeholder provider ARN
   (``functions.core.auth.USER_POOL_ARN_PLACEHOLDER``) becomes ``{"Fn::GetAtt": ["StaffUserPool", "Arn"]}``.
3. The zip holds ``app.py``, ``functions/`` and the requirements: the build fails if anything of
   ``iop/``, ``local/``, ``tests/`` or ``infra/`` got in (say, a new symlink under ``vendor/``).
   It is rewritten deterministically (sorted entries, fixed timestamps and modes) with a
   ``__pycache__/<name>.cpython-311.pyc`` beside every importable ``.py``, compiled with
   ``unchecked-hash`` invalidation: Lambda's code directory is read-only, so without them every cold
   start recompiles every module it imports; with unchecked hashes Python never even stats the source.

Exit status 0 on success; 1 with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import io
import json
import marshal
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "merge-template.json"
AUTH_MODULE = ROOT / "functions" / "core" / "auth.py"
PLACEHOLDER_NAME = "USER_POOL_ARN_PLACEHOLDER"
USER_POOL_ARN = {"Fn::GetAtt": ["StaffUserPool", "Arn"]}
CODE_URI = "./deployment.zip"
TASK_ROOT = "/var/task"  # where Lambda unpacks the zip; recorded as the code objects' file names
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: identical bytes on every build
KEEP_CACHED_PACKAGES = 4
CACHE_TAG = sys.implementation.cache_tag  # "cpython-311"
# Project code that never ships: the operator commands, the local stack, the tests and this build.
# The zip holds app.py, functions/ (vendor/functions) and the requirements; nothing in them imports these.
NOT_SHIPPED = frozenset({"iop", "local", "tests", "infra"})


class BuildError(Exception):
    """The build cannot go on; the message is the one-line reason printed to the user."""


@dataclass(frozen=True)
class BuildResult:
    template: Path
    zip_path: Path
    zip_bytes: int
    files: int
    compiled: int
    functions: dict[str, str]  # logical id -> Handler

    def summary(self) -> str:
        return (
            f"{self.template}: {len(self.functions)} functions; "
            f"{self.zip_path}: {self.zip_bytes / 1_048_576:.1f} MiB ({self.zip_bytes:,} bytes), "
            f"{self.files:,} files, {self.compiled:,} precompiled .pyc ({CACHE_TAG})"
        )


# --------------------------------------------------------------------------- chalice package
def user_pool_placeholder(auth_module: Path = AUTH_MODULE) -> str:
    """The placeholder ARN, read from the source without importing it (no settings, no boto3)."""
    try:
        tree = ast.parse(auth_module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError) as exc:
        raise BuildError(f"cannot read {PLACEHOLDER_NAME} from {auth_module}: {exc}") from exc
    for node in tree.body:
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == PLACEHOLDER_NAME for t in targets)
        if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    raise BuildError(f"{PLACEHOLDER_NAME} is not a string constant in {auth_module}")


def chalice_package(workdir: Path, stage: str, root: Path = ROOT) -> tuple[Path, Path]:
    """Run ``chalice package`` with this interpreter; returns (sam.json, deployment.zip)."""
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep __pycache__ out of vendor/ (and so out of chalice's hash)
    code = "import sys; from chalice.cli import main; sys.argv[0] = 'chalice'; sys.exit(main())"
    cmd = [
        sys.executable,
        "-c",
        code,
        "--project-dir",
        str(root),
        "package",
        "--pkg-format",
        "cloudformation",
        "--template-format",
        "json",
        "--merge-template",
        str(root / "infra" / "merge-template.json"),
        "--stage",
        stage,
        str(workdir),
    ]
    try:
        proc = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            cmd,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError("chalice package did not finish within 15 minutes") from exc
    if proc.returncode != 0:
        lines = [line.strip() for line in (proc.stderr + "\n" + proc.stdout).splitlines() if line.strip()]
        raise BuildError(f"chalice package failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
    sam, package = workdir / "sam.json", workdir / "deployment.zip"
    if not sam.is_file() or not package.is_file():
        raise BuildError(f"chalice package wrote no sam.json/deployment.zip in {workdir}")
    return sam, package


def prune_chalice_cache(root: Path = ROOT, keep: int = KEEP_CACHED_PACKAGES) -> None:
    """Each change under functions/ makes a new ~20 MB cache entry: keep only the newest few."""
    cache = root / ".chalice" / "deployments"
    if not cache.is_dir():
        return
    entries = sorted(cache.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        stale.unlink(missing_ok=True)


# --------------------------------------------------------------------------- template
def replace_exact(node: Any, old: str, new: Any) -> tuple[Any, int]:
    """Replace every string equal to ``old`` in a JSON document; returns (document, replacements)."""
    if isinstance(node, str):
        return (new, 1) if node == old else (node, 0)
    if isinstance(node, list):
        items = [replace_exact(item, old, new) for item in node]
        return [item for item, _ in items], sum(n for _, n in items)
    if isinstance(node, dict):
        pairs = {key: replace_exact(value, old, new) for key, value in node.items()}
        return {key: value for key, (value, _) in pairs.items()}, sum(n for _, n in pairs.values())
    return node, 0


def finish_template(template: dict[str, Any], placeholder: str) -> dict[str, Any]:
    resources = template.get("Resources") or {}
    functions = {name: res for name, res in resources.items() if res.get("Type") == "AWS::Serverless::Function"}
    if not functions:
        raise BuildError("the packaged template has no AWS::Serverless::Function")
    for res in functions.values():
        res.setdefault("Properties", {})["CodeUri"] = CODE_URI
    template, replaced = replace_exact(template, placeholder, USER_POOL_ARN)
    if placeholder in json.dumps(template):
        raise BuildError("the user pool placeholder ARN is embedded in a longer string; it cannot be replaced")
    if replaced and resources.get("StaffUserPool", {}).get("Type") != "AWS::Cognito::UserPool":
        raise BuildError("the API uses the staff authorizer but the template has no StaffUserPool user pool")
    return template


def runtime_version(template: dict[str, Any]) -> str:
    runtimes = {
        res["Properties"].get("Runtime")
        for res in template["Resources"].values()
        if res.get("Type") == "AWS::Serverless::Function"
    }
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtimes != {here}:
        raise BuildError(
            f"the functions' runtime {sorted(map(str, runtimes))} is not this interpreter ({here}): "
            "build with the runtime's Python so the .pyc files match"
        )
    return here


# --------------------------------------------------------------------------- zip
def _importable(name: str) -> bool:
    """A .py the runtime may import: not inside dist-info/.data metadata or an existing __pycache__."""
    parts = PurePosixPath(name).parts
    return name.endswith(".py") and not any(
        p == "__pycache__" or p.endswith((".dist-info", ".data", ".egg-info")) for p in parts[:-1]
    )


def pyc_name(name: str) -> str:
    path = PurePosixPath(name)
    return str(path.parent / "__pycache__" / f"{path.stem}.{CACHE_TAG}.pyc").removeprefix("./")


def compile_unchecked(source: bytes, name: str) -> bytes:
    """What ``compileall -o 0 --invalidation-mode unchecked-hash`` writes for one file."""
    code = compile(source, f"{TASK_ROOT}/{name}", "exec", dont_inherit=True, optimize=0)
    data = bytearray(importlib.util.MAGIC_NUMBER)
    data.extend((0b01).to_bytes(4, "little"))  # flags: hash-based, check_source = 0 (unchecked)
    data.extend(importlib.util.source_hash(source))
    data.extend(marshal.dumps(code))
    return bytes(data)


def _entry(name: str, executable: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the mode below is honoured when Lambda unpacks it
    info.external_attr = (0o100755 if executable else 0o100644) << 16  # world-readable: Lambda's user is not root
    return info


def read_entries(package: Path) -> Iterator[tuple[str, bytes, bool]]:
    with zipfile.ZipFile(package) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            if name.endswith((".pyc", ".pyo")) or "__pycache__/" in name:
                continue  # stale or foreign bytecode: recompiled below
            yield name, zf.read(info), bool((info.external_attr >> 16) & 0o111)


def rewrite_zip(package: Path, dest: Path) -> tuple[int, int]:
    """Write ``dest`` from chalice's zip plus precompiled bytecode; returns (files, compiled)."""
    files: dict[str, tuple[bytes, bool]] = {}
    for name, data, executable in read_entries(package):
        if name in files:
            raise BuildError(f"{name} is in the chalice package twice")
        if PurePosixPath(name).parts[0] in NOT_SHIPPED:
            raise BuildError(f"{name} is in the chalice package: only app.py, functions/ and the requirements ship")
        files[name] = (data, executable)
    compiled: dict[str, bytes] = {}
    for name in sorted(files):
        if not _importable(name):
            continue
        try:
            compiled[pyc_name(name)] = compile_unchecked(files[name][0], name)
        except (SyntaxError, ValueError) as exc:
            raise BuildError(f"cannot compile {name}: {exc.__class__.__name__}: {exc}") from exc
    for name, data in compiled.items():
        files[name] = (data, False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        for name in sorted(files):
            data, executable = files[name]
            out.writestr(_entry(name, executable), data)
    dest.write_bytes(buffer.getvalue())
    return len(files), len(compiled)


# --------------------------------------------------------------------------- driver
def build(out: Path, *, stage: str = "dev", root: Path = ROOT) -> BuildResult:
    out = Path(out)
    placeholder = user_pool_placeholder(root / "functions" / "core" / "auth.py")
    with tempfile.TemporaryDirectory(prefix="iop-build-") as tmp:
        work = Path(tmp)
        sam, package = chalice_package(work / "chalice", stage, root)
        try:
            template = json.loads(sam.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BuildError(f"chalice wrote a template that is not JSON: {exc}") from exc
        template = finish_template(template, placeholder)
        runtime_version(template)
        out.mkdir(parents=True, exist_ok=True)
        zip_tmp, template_tmp = out / ".deployment.zip.tmp", out / ".template.json.tmp"
        files, compiled = rewrite_zip(package, zip_tmp)
        template_tmp.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    os.replace(zip_tmp, out / "deployment.zip")
    os.replace(template_tmp, out / "template.json")
    prune_chalice_cache(root)
    functions = {
        name: res["Properties"]["Handler"]
        for name, res in template["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
    }
    zip_path = out / "deployment.zip"
    return BuildResult(
        template=out / "template.json",
        zip_path=zip_path,
        zip_bytes=zip_path.stat().st_size,
        files=files,
        compiled=compiled,
        functions=functions,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build"), help="output directory (default: build)")
    parser.add_argument("--stage", default="dev", help="the .chalice/config.json stage to package (default: dev)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        result = build(args.out, stage=args.stage)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"build failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    print(f"deployment.zip sha256 {sha256(result.zip_path)[:16]}; built in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
