"""Workflows: multi-step specs whose steps run as jobs, wired together by a dependency DAG."""

from __future__ import annotations

__all__: list[str] = []
