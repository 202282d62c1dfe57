"""The agent's bundle install, as a unit (its fetch replaced): it swaps `current` to the new bundle,
and a file the bundle before held with the same bytes keeps its modification time, so Airflow's DAG
processor re-parses only the files a deploy changed; a bundle that does not match its version is
refused and leaves `current` alone."""
import gzip
import hashlib
import importlib.util
import io
import os
import sys
import tarfile
import time

import pytest

from runtime import spec


@pytest.fixture
def agent(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(spec.AGENT_SOURCE.parent))
    loaded = importlib.util.spec_from_file_location("airdock_agent_under_test", spec.AGENT_SOURCE)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    monkeypatch.setattr(module, "BUNDLES", str(tmp_path / "bundles"))
    os.makedirs(module.BUNDLES)
    module.served = {}
    monkeypatch.setattr(module, "request", lambda path, body=None, timeout=30: module.served[path.rsplit("/", 1)[1]])
    yield module
    sys.modules.pop("airdock_agent_under_test", None)


def bundle(agent, files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"dags/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    version = hashlib.sha256(raw).hexdigest()
    agent.served[version] = gzip.compress(raw)
    return version


def mtime(agent, name: str) -> int:
    return os.stat(os.path.join(agent.BUNDLES, "current", name)).st_mtime_ns


def test_unchanged_files_keep_their_modification_time_and_changed_ones_get_a_new_one(agent):
    first = bundle(agent, {"a.py": "a = 1\n", "b.py": "b = 1\n", "sub/c.py": "c = 1\n"})
    agent.install(first)
    before = {name: mtime(agent, name) for name in ("a.py", "b.py", "sub/c.py")}
    time.sleep(0.05)
    second = bundle(agent, {"a.py": "a = 1\n", "b.py": "b = 2\n", "sub/c.py": "c = 1\n", "new.py": "n = 1\n"})
    agent.install(second)
    assert agent.current_version() == second and agent.INSTALLED[0]
    assert mtime(agent, "a.py") == before["a.py"] and mtime(agent, "sub/c.py") == before["sub/c.py"]
    assert mtime(agent, "b.py") > before["b.py"]
    assert open(os.path.join(agent.BUNDLES, "current", "b.py")).read() == "b = 2\n"
    assert os.path.exists(os.path.join(agent.BUNDLES, "current", "new.py"))


def test_a_bundle_that_does_not_match_its_version_is_refused(agent):
    good = bundle(agent, {"a.py": "a = 1\n"})
    agent.install(good)
    agent.served["0" * 64] = agent.served[good]
    with pytest.raises(ValueError, match="does not match its version"):
        agent.install("0" * 64)
    assert agent.current_version() == good
