"""Optional (``--profile``): where a request spends its time, in-process under pyinstrument."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pyinstrument import Profiler

from app.store.engine import create_engine
from scripts import generate

from .measure import graphql_data, sequential
from .servers import ROOT, in_process_client, reader_key, writer_key
from .workload import READ_TENANT, record_body, take


@dataclass
class ProfileReport:
    title: str
    requests: int
    seconds: float
    buckets: list[tuple[str, float]]
    functions: list[tuple[str, float]]
    tree: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _bucket(file_path: str | None, function: str) -> str | None:
    if not file_path or file_path.startswith("<"):
        return None  # a built-in: counted with its caller
    if function in {"poll", "select"} and file_path.endswith("selectors.py"):
        return "event loop idle (awaiting the database)"
    path = file_path.replace("\\", "/")
    if "/site-packages/" in path:
        package = path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        return "httpx/httpcore (benchmark client)" if package in {"httpx", "httpcore"} else package
    if path.startswith(f"{ROOT}/app/"):
        return "app (gateway code)"
    if "/scripts/" in path:
        return "benchmark script"
    module = Path(path).stem if Path(path).parent.name.startswith("python3") else Path(path).parent.name
    return f"stdlib {module}"


def summarize(profiler: Profiler, title: str, requests: int, seconds: float) -> ProfileReport:
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    total = root.time or 1.0
    buckets: dict[str, float] = {}
    functions: dict[str, float] = {}

    def walk(frame: Any, inherited: str) -> None:
        if frame.is_synthetic:
            return
        bucket = _bucket(frame.file_path, frame.function) or inherited
        own = frame.time - sum(child.time for child in frame.children if not child.is_synthetic)
        buckets[bucket] = buckets.get(bucket, 0.0) + own
        name = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        functions[name] = functions.get(name, 0.0) + own
        for child in frame.children:
            walk(child, bucket)

    walk(root, "other")
    text = profiler.output_text(unicode=False, color=False, time="percent_of_total")
    kept = [line for line in text.splitlines() if (m := re.search(r"(\d+\.\d)%", line)) and float(m[1]) >= 2.0]
    return ProfileReport(
        title,
        requests,
        seconds,
        sorted(((k, v / total) for k, v in buckets.items()), key=lambda kv: -kv[1])[:14],
        sorted(((k, v / total) for k, v in functions.items()), key=lambda kv: -kv[1])[:20],
        "\n".join(kept[:70]),
    )


async def profile_read(url: str, body: bytes, title: str, seconds: float) -> ProfileReport:
    engine = create_engine(url)
    try:
        headers = {"Authorization": f"Bearer {reader_key(url, READ_TENANT)}", "Content-Type": "application/json"}
        async with in_process_client(url, engine) as client:
            for _ in range(5):
                graphql_data(await client.post("/graphql", content=body, headers=headers))
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            profiler.start()
            timing = await sequential(lambda: client.post("/graphql", content=body, headers=headers), 2_000, seconds)
            profiler.stop()
        return summarize(profiler, title, timing.count, timing.elapsed)
    finally:
        await engine.dispose()


async def profile_write(url: str, seconds: float) -> ProfileReport:
    """``recordEvents`` with batches of 500, in-process, into the database ``url`` (a fresh one: it grows)."""
    engine = create_engine(url)
    tenant = "bench-profile"
    try:
        headers = {"Authorization": f"Bearer {writer_key(url, tenant)}", "Content-Type": "application/json"}
        stream = generate.submissions(100 * 500, [tenant], seed=202)
        bodies = iter([record_body(take(stream, 500)) for _ in range(100)])
        async with in_process_client(url, engine) as client:
            graphql_data(await client.post("/graphql", content=next(bodies), headers=headers))
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            profiler.start()
            timing = await sequential(
                lambda: client.post("/graphql", content=next(bodies), headers=headers), 99, seconds
            )
            profiler.stop()
        return summarize(profiler, "recordEvents, batches of 500 (in-process)", timing.count, timing.elapsed)
    finally:
        await engine.dispose()
