"""The per-process caches of ``assaykit.analyze``: the default host and input hashes.

Truth: ``hashlib.sha256`` of the bytes the test wrote, and a plugin module
the test writes itself.
"""

from __future__ import annotations

import hashlib
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from assaykit import api
from assaykit.experiment import _HASHES, Input, sha256_file_cached

PLUGIN = '''
from assaykit import Assay, AssayResult, Metric, Params, hookimpl

class CountParams(Params):
    pass

class CountAssay(Assay):
    name = "cache_probe_count"
    version = "1"
    summary = "number of lines of a text file"
    input_kinds = ("table",)
    Params = CountParams
    metrics = (Metric("sample", "lines", None, "int", "number of data lines, dimensionless"),)

    def analyze(self, experiment, params):
        res = AssayResult()
        for inp in experiment.samples:
            n = len(inp.path.read_text().splitlines()) - 1
            res.add(inp.sample_id, "sample", inp.sample_id, "lines", n)
        return res

@hookimpl
def assaykit_register_assays(register):
    register(CountAssay())
'''


def _old(path: Path) -> None:
    """Date the file 1 min back: the cache only keeps files that settled for 2 s."""
    t = time.time() - 60
    os.utime(path, (t, t))


def test_modified_file_gets_new_hash(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_bytes(b"value\n1\n")
    _old(f)
    assert sha256_file_cached(f) == hashlib.sha256(b"value\n1\n").hexdigest()
    f.write_bytes(b"value\n1\n2\n")
    _old(f)
    assert sha256_file_cached(f) == hashlib.sha256(b"value\n1\n2\n").hexdigest()
    assert Input.from_path(f).sha256 == hashlib.sha256(b"value\n1\n2\n").hexdigest()


def test_same_size_same_mtime_rewrite_of_fresh_file_not_cached(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(b"value\n1\n")
    st = f.stat()
    assert sha256_file_cached(f) == hashlib.sha256(b"value\n1\n").hexdigest()
    f.write_bytes(b"value\n2\n")  # same size; force the same mtime
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sha256_file_cached(f) == hashlib.sha256(b"value\n2\n").hexdigest()


def test_cache_is_bounded(tmp_path: Path) -> None:
    for i in range(40):
        f = tmp_path / f"f{i}.csv"
        f.write_text(f"value\n{i}\n")
        _old(f)
        sha256_file_cached(f)
    assert len(_HASHES) <= 4096


def test_new_plugin_seen_after_clear_and_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "c.csv"
    f.write_text("value\n1\n2\n3\n")
    _old(f)
    monkeypatch.setenv("ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("ASSAYKIT_PLUGINS", raising=False)
    api.clear_host_cache()
    h1 = api._host(None)
    assert api._host(None) is h1  # cached
    assert "cache_probe_count" not in h1.assays
    (tmp_path / "cache_probe_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    # a plugin the host config names only through the module list: build that host
    from assaykit import HostConfig, PluginHost

    fresh = PluginHost(HostConfig(autoload=False, modules=("cache_probe_plugin",)))
    uncached = api.analyze("cache_probe_count", [f], host=fresh)
    assert uncached.value("c", "lines") == 3  # the file has 3 data lines
    again = api.analyze("cache_probe_count", [f], host=fresh)
    assert [r.value for r in again.records] == [r.value for r in uncached.records]
    assert again.experiment.inputs[0].sha256 == hashlib.sha256(f.read_bytes()).hexdigest()
    api.clear_host_cache()
    assert api._host(None) is not h1  # rebuilt: a plugin installed meanwhile is loaded
    sys.modules.pop("cache_probe_plugin", None)


def test_env_change_gets_its_own_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAYKIT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("ASSAYKIT_BLOCK_PLUGINS", raising=False)
    api.clear_host_cache()
    assert "annexin_pi" in api._host(None).assays
    monkeypatch.setenv("ASSAYKIT_BLOCK_PLUGINS", "annexin")
    assert "annexin_pi" not in api._host(None).assays
    api.clear_host_cache()
