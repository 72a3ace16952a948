"""This process's own counters from procfs (``/internal/stats``, session actors)."""

from __future__ import annotations

from pathlib import Path


def proc_status() -> dict[str, str]:
    """``/proc/self/status`` as a dict (empty where there is no procfs)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    fields = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key: value.strip() for key, value in fields}


def rss_bytes(status: dict[str, str] | None = None) -> int | None:
    """Resident set size in bytes, from ``status`` or a fresh `proc_status` (None: unknown)."""
    kb = (proc_status() if status is None else status).get("VmRSS", "").split()
    return int(kb[0]) * 1024 if kb and kb[0].isdigit() else None
