"""The load generator speaks the scheme of the scoring URI: http to the local router, https (port
443 unless given) to an Azure endpoint, with its key and without pinning unless asked."""

from __future__ import annotations

import http.client

from console.loadgen import run_load


class Recorded:
    """An HTTP(S)Connection that answers 200 from 'blue' and records how it was opened and used."""

    opened: list[tuple[str, str, int | None]] = []
    sent: list[dict[str, str]] = []

    def __init__(self, host, port=None, timeout=None):
        self.opened.append((type(self).__name__, host, port))

    def request(self, method, path, body=None, headers=None):
        self.sent.append(dict(headers or {}))

    def getresponse(self):
        class Reply:
            status = 200

            def read(self):
                return b"[0]"

            def getheader(self, name):
                return "blue" if name == "azureml-model-deployment" else None
        return Reply()

    def close(self):
        pass


def test_an_https_scoring_uri_is_sent_over_tls(monkeypatch):
    https = type("HTTPSConnection", (Recorded,), {})
    plain = type("HTTPConnection", (Recorded,), {})
    monkeypatch.setattr(http.client, "HTTPSConnection", https)
    monkeypatch.setattr(http.client, "HTTPConnection", plain)
    Recorded.opened, Recorded.sent = [], []
    summary = run_load("https://churn-ep.eastus.inference.ml.azure.com/score", "k3y", [b"{}"], rps=50,
                       duration_s=0.1, concurrency=2)
    assert summary.statuses == {200: 5} and summary.by_deployment == {"blue": 5}
    assert {o for o in Recorded.opened} == {("HTTPSConnection", "churn-ep.eastus.inference.ml.azure.com", None)}
    assert all(h["authorization"] == "Bearer k3y" and "azureml-model-deployment" not in h for h in Recorded.sent)
    Recorded.opened = []
    run_load("http://127.0.0.1:8123/score", None, [b"{}"], rps=50, duration_s=0.04, concurrency=1)
    assert Recorded.opened == [("HTTPConnection", "127.0.0.1", 8123)]
