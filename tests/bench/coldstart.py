"""Cold-start import cost of each Lambda, measured from the built zip.

    python tests/bench/coldstart.py [--runs 7] [--build build] [--rebuild] [--importtime] [--before]

For each function of ``build/template.json`` (six) this times ``import <handler module>``
(``app`` for ``api_handler``) in a fresh ``python -I -S`` process whose only path besides the standard
library is the unzipped deployment package, with the environment a Lambda would have (region, fake
credentials, the function's ``IOP_*`` variables with placeholder names). The floor is
``import boto3; boto3.client("dynamodb")`` timed the same way in the same run; runs are interleaved
so drift hits every row alike. Medians of ``--runs`` (at least 7).

Functions over 1.5x the floor get an ``-X importtime`` breakdown: the packages whose own import time
(summed over their modules) exceeds the floor's, our modules' own time, and the third-party imports
our modules make directly, by cumulative cost.
``--before`` adds, in the same interleaved runs, each function imported from the same zip with every
``.pyc`` removed: what a source-only package (``chalice deploy``'s) costs, since Lambda's read-only
``/var/task`` makes Python compile every imported module again in every new container.
``build/`` is reused when it is newer than the sources; otherwise it is rebuilt first.
Not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TARGET_RATIO = 1.5
TIMER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
{body}
print((time.perf_counter() - t0) * 1000.0)
"""
FLOOR_BODY = 'import boto3\nboto3.client("dynamodb")'
FLOOR = "floor: boto3 + dynamodb client"


# --------------------------------------------------------------------------- package
def sources_newer_than(stamp: float) -> bool:
    paths = [
        ROOT / "app.py",
        ROOT / "requirements.txt",
        ROOT / "infra" / "merge-template.json",
        ROOT / ".chalice" / "config.json",
        *(ROOT / "functions").rglob("*.py"),
    ]
    return any(p.exists() and p.stat().st_mtime > stamp for p in paths)


def ensure_build(out: Path, rebuild: bool) -> None:
    zip_path, template = out / "deployment.zip", out / "template.json"
    fresh = zip_path.exists() and template.exists() and not sources_newer_than(zip_path.stat().st_mtime)
    if fresh and not rebuild:
        print(f"reusing {zip_path} (newer than the sources)")
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from infra.build import BuildError, build

    try:
        print(build(out).summary())
    except BuildError as exc:
        sys.exit(f"build failed: {exc}")


# --------------------------------------------------------------------------- environment
def placeholder(value: Any, resources: dict[str, Any], parameters: dict[str, Any]) -> str:
    """A plausible stand-in for an intrinsic function, so settings parse as they would in AWS."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return json.dumps(value)
    ((fn, arg),) = value.items()
    if fn == "Ref":
        if arg in parameters:
            return str(parameters[arg].get("Default", arg))
        pseudo = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "virtual-iop-bench",
        }
        if arg in pseudo:
            return pseudo[arg]
        rtype = resources.get(arg, {}).get("Type", "")
        if rtype == "AWS::SQS::Queue":
            return f"https://sqs.us-east-1.amazonaws.com/123456789012/virtual-iop-bench-{arg}"
        if rtype == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:virtual-iop/bench/{arg}-AbCdEf"
        return f"virtual-iop-bench-{arg}"
    if fn == "Fn::GetAtt":
        return f"arn:aws:bench:us-east-1:123456789012:{arg[0]}"
    if fn == "Fn::Sub":
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        for name, sub_value in extra.items():
            text = text.replace("${" + name + "}", placeholder(sub_value, resources, parameters))
        while "${" in text:
            start = text.index("${")
            end = text.index("}", start)
            name = text[start + 2 : end]
            text = text[:start] + placeholder({"Ref": name}, resources, parameters) + text[end + 1 :]
        return text
    return f"bench-{fn}"


def lambda_env(task: Path, name: str, props: dict[str, Any] | None, template: dict[str, Any]) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench/bench/bench/bench/bench/bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": f"virtual-iop-bench-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str((props or {}).get("MemorySize", 128)),
    }
    variables = ((props or {}).get("Environment") or {}).get("Variables") or {}
    for key, value in variables.items():
        env[key] = placeholder(value, template["Resources"], template.get("Parameters", {}))
    return env


# --------------------------------------------------------------------------- measuring
def run_python(
    task: Path, body: str, env: dict[str, str], *, importtime: bool = False
) -> subprocess.CompletedProcess[str]:
    # -B: /var/task is read-only, so a module without a .pyc would be compiled again in every process
    args = [sys.executable, "-I", "-S", "-B"] + (["-X", "importtime"] if importtime else [])
    return subprocess.run(
        [*args, "-c", TIMER.format(body=body), str(task)],
        cwd=task,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def time_once(task: Path, body: str, env: dict[str, str]) -> float:
    proc = run_python(task, body, env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        sys.exit(f"{body.splitlines()[0]!r} failed: {tail[0]}")
    return float(proc.stdout.strip().splitlines()[-1])


Row = tuple[float, float, str, str]  # own ms, cumulative ms, module, the module that imported it


def importtime(task: Path, body: str, env: dict[str, str]) -> list[Row]:
    """Every import ``body`` triggers, with the module whose import triggered it ("" at top level)."""
    proc = run_python(task, body, env, importtime=True)
    parsed: list[tuple[float, float, int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" "))) // 2
        parsed.append((int(own_us) / 1000.0, int(cumulative_us) / 1000.0, depth, name.strip()))
    # -X importtime prints children before their parent, one indent deeper: walk it backwards.
    rows: list[Row] = []
    stack: list[tuple[int, str]] = []
    for own, cumulative, depth, name in reversed(parsed):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        rows.append((own, cumulative, name, stack[-1][1] if stack else ""))
        stack.append((depth, name))
    return rows


def median_rows(task: Path, body: str, env: dict[str, str], runs: int = 5) -> list[Row]:
    samples: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for _ in range(runs):
        for own, cumulative, name, parent in importtime(task, body, env):
            samples[(name, parent)].append((own, cumulative))
    return [
        (statistics.median(o for o, _ in v), statistics.median(c for _, c in v), name, parent)
        for (name, parent), v in samples.items()
    ]


def ours(name: str) -> bool:
    return name == "app" or name.startswith("functions.")


def offenders(task: Path, module: str, env: dict[str, str], floor_env: dict[str, str], top: int = 8) -> list[str]:
    handler_rows = median_rows(task, f"import {module}", env)
    floor_rows = median_rows(task, FLOOR_BODY, floor_env)
    mine: dict[str, float] = defaultdict(float)
    floor: dict[str, float] = defaultdict(float)
    for own, _, name, _ in handler_rows:
        mine[name.split(".")[0]] += own
    for own, _, name, _ in floor_rows:
        floor[name.split(".")[0]] += own
    lines = [
        "  own import time per top-level package, median of 5 -X importtime runs (ms):",
        f"    {'package':<34} {'handler':>8} {'floor':>8} {'extra':>8}",
    ]
    extra = sorted(((ms - floor.get(pkg, 0.0), pkg, ms) for pkg, ms in mine.items()), reverse=True)
    lines += [
        f"    {pkg:<34} {ms:8.1f} {floor.get(pkg, 0.0):8.1f} {diff:+8.1f}"
        for diff, pkg, ms in extra[:top]
        if diff >= 1.0
    ]
    lines.append("  our modules' own time (module bodies: class definitions such as pydantic models built at import):")
    lines += [
        f"    {name:<52} {own:8.1f}"
        for own, _, name, _ in sorted((r for r in handler_rows if ours(r[2])), reverse=True)[:top]
    ]
    lines.append("  third-party imports made directly by our modules (cumulative ms; the first importer pays):")
    direct = sorted(
        ((cum, name, parent) for _, cum, name, parent in handler_rows if ours(parent) and not ours(name)), reverse=True
    )[:top]
    lines += [f"    {parent:<34} imports {name:<52} {cum:8.1f}" for cum, name, parent in direct]
    return lines


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per row (at least 7)")
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="build directory (default: build/)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if build/ is newer than the sources")
    parser.add_argument("--importtime", action="store_true", help="break down every function, not only slow ones")
    parser.add_argument("--before", action="store_true", help="also time a source-only copy (no .pyc): before/after")
    args = parser.parse_args(argv)
    runs = max(7, args.runs)
    ensure_build(args.build, args.rebuild)
    template = json.loads((args.build / "template.json").read_text())
    functions = {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
    }
    with tempfile.TemporaryDirectory(prefix="iop-coldstart-") as tmp:
        task = Path(tmp) / "zip"
        with zipfile.ZipFile(args.build / "deployment.zip") as zf:
            zf.extractall(task)
        source_only = Path(tmp) / "source-only"
        if args.before:
            with zipfile.ZipFile(args.build / "deployment.zip") as zf:
                zf.extractall(source_only)
            for pyc in list(source_only.rglob("*.pyc")):
                pyc.unlink()
        rows: list[tuple[str, str, str, dict[str, str], Path]] = [
            (FLOOR, "boto3", FLOOR_BODY, lambda_env(task, "floor", None, template), task)
        ]
        for name, props in sorted(functions.items()):
            module = props["Handler"].rpartition(".")[0]
            rows.append((name, module, f"import {module}", lambda_env(task, name, props, template), task))
            if args.before:
                rows.append((f"{name} (no .pyc)", module, f"import {module}",
                             lambda_env(source_only, name, props, template), source_only))
        samples: dict[str, list[float]] = {label: [] for label, *_ in rows}
        for _label, _, body, env, where in rows:  # warm the OS page cache once; not counted
            time_once(where, body, env)
        for _ in range(runs):
            for label, _, body, env, where in rows:
                samples[label].append(time_once(where, body, env))
        floor = statistics.median(samples[FLOOR])
        print(f"\nimport time from the built zip, python -I -S, median of {runs} fresh processes\n")
        floor_min = min(samples[FLOOR])
        header = f"{'function':<32} {'handler module':<28} {'median ms':>9} {'min ms':>7} {'x floor':>8} {'min/min':>8}"
        print(header)
        print("-" * len(header))
        slow: list[tuple[str, str, dict[str, str]]] = []
        for label, module, _, env, where in rows:
            median, fastest = statistics.median(samples[label]), min(samples[label])
            ratio, min_ratio = median / floor, fastest / floor_min
            mark = "  over" if ratio > TARGET_RATIO and label != FLOOR else ""
            print(f"{label:<32} {module:<28} {median:>9.1f} {fastest:>7.1f} {ratio:>8.2f} {min_ratio:>8.2f}{mark}")
            if label != FLOOR and where == task and (max(ratio, min_ratio) > TARGET_RATIO or args.importtime):
                slow.append((label, module, env))
        print(
            f"\ntarget: every function at most {TARGET_RATIO}x the floor "
            "(x floor: median/median; min/min: fastest/fastest, steadier on a busy machine)"
        )
        seen: set[str] = set()
        for label, module, env in slow:
            if module in seen:
                continue
            seen.add(module)
            print(f"\n{label} ({module}):")
            print("\n".join(offenders(task, module, env, rows[0][3])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
