"""The demo load's loop, with the daemon and the HTTP load faked at their edges: every chunk
goes on where the last one stopped (so the endpoint sees the drifted distribution, not the
same few rows), the endpoint is read again each chunk, and the loop ends when it is gone."""

from __future__ import annotations

from types import SimpleNamespace

from console import demo
from console.errors import NotFound
from console.loadgen import LoadSummary


def test_chunks_walk_through_the_payloads_and_stop_with_the_endpoint(monkeypatch, tmp_path):
    chunks: list[list[bytes]] = []
    reads = []

    class FakeEndpoints:
        def get(self, name):
            reads.append(name)
            if len(reads) > 4:
                raise NotFound("endpoint", name)
            return SimpleNamespace(scoring_uri="http://127.0.0.1:9/score")

        def keys(self, name):
            return SimpleNamespace(primary="key")

    def fake_run_load(uri, key, payloads, *, rps, duration_s, **kw):
        chunks.append(payloads)
        return LoadSummary(sent=int(rps * duration_s))

    monkeypatch.setattr("console.local.client.LocalWorkspace",
                        lambda root, autostart: SimpleNamespace(endpoints=FakeEndpoints()))
    monkeypatch.setattr("console.loadgen.run_load", fake_run_load)
    monkeypatch.setattr("console.loadgen.churn_payloads", lambda count, **kw: [b"%d" % i for i in range(count)])

    assert demo.run_load_forever(tmp_path) == 0
    assert reads == ["churn-ep"] * 5  # read again before every chunk; gone on the fifth read
    per_chunk = int(demo.LOAD_RPS * demo.LOAD_CHUNK_S)
    firsts = [chunk[0] for chunk in chunks]
    assert firsts == [b"%d" % (i * per_chunk) for i in range(4)]
    sent = [row for chunk in chunks for row in chunk[:per_chunk]]
    assert len(set(sent)) == len(sent) == 4 * per_chunk  # no row sent twice while others wait
