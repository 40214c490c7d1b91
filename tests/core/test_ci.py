"""In CI (``CI=true``) a test whose tool is missing fails instead of skipping; ``.ci/run`` starts what
the tests need."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, missing_tool


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_a_missing_tool_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="must run"):
        missing_tool("no Redis on 127.0.0.1:6379")


@pytest.mark.parametrize("value", [None, "", "false"])
def test_a_missing_tool_skips_outside_ci(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        missing_tool("Node.js is not installed")


def test_ci_starts_postgresql_and_redis_and_runs_with_ci_true():
    script = (ROOT / ".ci" / "run").read_text()
    assert "pg_ctlcluster" in script and "redis-server --daemonize yes" in script
    assert 'export CI="${CI:-true}"' in script
