"""The router's pure parts: rolling metrics, config validation, payload translation, the small
HTTP/1.1 parser, and the data collector's records and hourly files."""

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from console.local.serving import collector as col
from console.local.serving.metrics import RollingMetrics, is_client_error, is_failure
from console.local.serving.config import ConfigError, redact, validate_config
from console.local.serving.http1 import HttpError, _TooLarge, parse_chunked, parse_head
from console.local.serving.payloads import to_mlflow
from console.local.serving.router import MAX_BODY

T0 = 1_800_000_000.0  # a round epoch second: 10 s intervals align


# --- metrics ----------------------------------------------------------------------------------


def test_status_classes():
    for s in (408, 424, 429, 500, 502, 503, 504):
        assert is_failure(s) and not is_client_error(s)
    for s in (400, 401, 404, 413):
        assert is_client_error(s) and not is_failure(s)
    for s in (200, 201, 204):
        assert not is_failure(s) and not is_client_error(s)


def test_counts_success_rate_and_client_errors():
    m = RollingMetrics(now=T0)
    for i in range(90):
        m.record(200, 10.0 + i % 10, now=T0 + 1)
    for s in (424, 408, 429, 500, 503):
        m.record(s, 5.0 if s in (424, 408, 500) else None, now=T0 + 2)
    for s in (401, 404, 413, 401, 413):
        m.record(s, None, now=T0 + 2)
    w = m.summary(now=T0 + 3)["60"]
    assert w["requests"] == 100
    assert w["failures"] == 5 and w["client_errors"] == 5
    # the denominator leaves the client's errors out: 5 failures in 95 answerable requests
    assert w["success_rate"] == pytest.approx(1 - 5 / 95, abs=1e-6)
    assert w["statuses"] == {"200": 90, "401": 2, "404": 1, "408": 1, "413": 2, "424": 1, "429": 1,
                             "500": 1, "503": 1}
    # latency only for forwarded requests: 90 + 3
    assert w["p50_ms"] == pytest.approx(float(np.percentile([10.0 + i % 10 for i in range(90)] + [5.0] * 3, 50)))


def test_only_client_errors_give_no_success_rate():
    m = RollingMetrics(now=T0)
    m.record(401, now=T0)
    w = m.summary(now=T0)["60"]
    assert w["requests"] == 1 and w["success_rate"] is None and w["p50_ms"] is None


def test_percentiles_match_numpy_over_both_windows():
    rng = np.random.default_rng(1)
    m = RollingMetrics(now=T0)
    old = rng.gamma(2.0, 5.0, 3000)  # 100 to 280 s ago: in the 300 s window only
    new = rng.gamma(2.0, 2.0, 3000)  # the last 60 s
    for i, v in enumerate(old):
        m.record(200, float(v), now=T0 + 20 + i * 0.06)
    for i, v in enumerate(new):
        m.record(200, float(v), now=T0 + 245 + i * 0.0183)
    now = T0 + 300
    s = m.summary(now=now)
    w60, w300 = s["60"], s["300"]
    assert w60["requests"] == 3000 and w300["requests"] == 6000
    for key, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        assert w60[key] == pytest.approx(np.percentile(new, q), abs=1e-3)
        assert w300[key] == pytest.approx(np.percentile(np.concatenate([old, new]), q), abs=1e-3)
    # The current second has just begun: the 60 buckets counted cover 59 s, the 300 cover 299.
    assert w60["rps"] == pytest.approx(3000 / 59, rel=1e-3)
    assert w300["rps"] == pytest.approx(6000 / 299, rel=1e-3)


def test_rps_of_a_young_deployment_uses_its_age():
    m = RollingMetrics(now=T0)
    for i in range(100):
        m.record(200, 1.0, now=T0 + i * 0.1)
    assert m.summary(now=T0 + 10)["60"]["rps"] == pytest.approx(10.0)


def record_split(m: RollingMetrics, other: RollingMetrics, start: float, seconds: float, rate: float,
                 share: float) -> None:
    """`rate` requests a second from `start`, evenly spaced, as the router records them: every
    request goes to `m` or `other`, `share` of them to `m` (Bresenham's spread, exact per second)."""
    sent = kept = 0
    for i in range(int(seconds * rate)):
        sent += 1
        target = m if kept < round(sent * share) else other
        kept += target is m
        target.record(200, 5.0, now=start + i / rate)


def test_the_ten_second_window_shows_a_traffic_change_ten_seconds_later_the_minute_does_not():
    blue, green = RollingMetrics(now=T0), RollingMetrics(now=T0)
    record_split(blue, green, T0, 120, 20.0, 0.9)  # two minutes at 90/10, 20 requests a second
    change = T0 + 120
    record_split(blue, green, change, 10.5, 20.0, 0.5)  # then 50/50
    now = change + 10.45  # the current second 45 % gone: the window covers 9.45 s, not 10
    b, g = blue.summary(now=now), green.summary(now=now)
    assert b["10"]["requests"] + g["10"]["requests"] == 190  # 20 a second over 9.45 s, both ends included
    assert b["10"]["rps"] + g["10"]["rps"] == pytest.approx(20.0, rel=0.01)
    assert b["10"]["rps"] == pytest.approx(10.0, rel=0.02) and g["10"]["rps"] == pytest.approx(10.0, rel=0.02)
    # The minute still reads mostly the old split: what the pane showed for a minute after a change.
    share = g["60"]["rps"] / (b["60"]["rps"] + g["60"]["rps"])
    assert 0.15 < share < 0.25


def test_the_ten_second_window_of_a_router_that_just_started_divides_by_its_age():
    m = RollingMetrics(now=T0 + 0.5)
    for i in range(60):
        m.record(200, 1.0, now=T0 + 0.5 + i * 0.05)
    assert m.summary(now=T0 + 3.5)["10"]["rps"] == pytest.approx(20.0)


def test_windows_forget_old_seconds_and_memory_is_bounded():
    m = RollingMetrics(now=T0)
    for sec in range(0, 2000):
        m.record(200, 1.0, now=T0 + sec)
    assert len(m._buckets) <= 311
    s = m.summary(now=T0 + 1999)
    assert s["60"]["requests"] == 60 and s["300"]["requests"] == 300
    assert m.total == 2000


def test_series_p50_per_10s_interval():
    m = RollingMetrics(now=T0)
    # intervals [T0, T0+10) ... ; put latency = 10 * interval index in the last 5 intervals
    for k in range(25, 30):
        for j in range(10):
            m.record(200, 10.0 * k + j % 2, now=T0 + k * 10 + j)
    s = m.summary(now=T0 + 299)
    series = s["series_p50_ms"]
    assert len(series) == 30
    assert s["series_start"] == T0 and s["series_interval_s"] == 10
    assert series[:25] == [None] * 25
    assert series[25:] == [pytest.approx(10.0 * k + 0.5) for k in range(25, 30)]


def test_out_of_order_timestamp_lands_in_the_current_second():
    m = RollingMetrics(now=T0)
    m.record(200, 1.0, now=T0 + 5)
    m.record(200, 2.0, now=T0 + 3)  # the clock stepped back
    assert m.summary(now=T0 + 5)["60"]["requests"] == 2


# --- config -----------------------------------------------------------------------------------


def config(**over):
    cfg = {
        "endpoint": "churn-ep", "host": "127.0.0.1", "port": 0, "auth_mode": "key",
        "keys": {"primary": "p" * 32, "secondary": "s" * 32}, "admin_token": "a" * 32,
        "collect_dir": "/tmp/collect", "traffic": {"blue": 90, "green": 10}, "mirror": {},
        "deployments": {
            "blue": {"instances": ["http://127.0.0.1:5001", "http://127.0.0.1:5002"], "request_timeout_ms": 5000,
                     "max_concurrent_requests_per_instance": 1, "instance_count": 2,
                     "collect": ["model_inputs", "model_outputs"]},
            "green": {"instances": ["http://127.0.0.1:5003"]},
        },
        "version": 7,
    }
    cfg.update(over)
    return cfg


def test_valid_config_is_normalised():
    cfg = validate_config(config(traffic={"blue": 100}))
    assert cfg["traffic"] == {"blue": 100, "green": 0}
    assert cfg["deployments"]["green"] == {"instances": ["http://127.0.0.1:5003"], "request_timeout_ms": 5000,
                                           "max_concurrent_requests_per_instance": 1, "instance_count": 1,
                                           "collect": []}
    assert validate_config(config(traffic={"blue": 0, "green": 0}))["traffic"] == {"blue": 0, "green": 0}
    assert validate_config(config(traffic={"blue": 100}, mirror={"green": 50}))["mirror"] == {"green": 50}
    assert validate_config(config(mirror={"green": 0}, traffic={"blue": 100}))["mirror"] == {}


@pytest.mark.parametrize("over, fragment", [
    ({"traffic": {"blue": 90}}, "sum to 0 or 100"),
    ({"traffic": {"blue": 90, "green": 20}}, "sum to 0 or 100"),
    ({"traffic": {"blue": 100, "red": 0}}, "unknown deployment"),
    ({"traffic": {"blue": 100.0}}, "integer"),
    ({"traffic": {"blue": True, "green": 99}}, "integer"),
    ({"traffic": {"blue": 101, "green": -1}}, "between 0 and 100"),
    ({"mirror": {"green": 10}}, "0% live traffic"),
    ({"traffic": {"blue": 100}, "mirror": {"green": 51}}, "between 0 and 50"),
    ({"traffic": {"blue": 100}, "mirror": {"green": 10, "blue": 10}}, "at most one"),
    ({"traffic": {"blue": 100}, "mirror": {"red": 10}}, "unknown deployment"),
    ({"endpoint": "9lives"}, "endpoint"),
    ({"keys": {"primary": "x"}}, "keys"),
    ({"admin_token": ""}, "admin_token"),
    ({"collect_dir": "relative/dir"}, "absolute"),
    ({"collect_dir": None}, "collect_dir: required"),
    ({"port": 70000}, "port"),
    ({"auth_mode": "aad"}, "auth_mode"),
    ({"deployments": {"b": {"instances": []}}, "traffic": {}}, "deployments.b"),
    ({"deployments": {"blue": {"instances": ["ftp://x"]}}, "traffic": {"blue": 100}}, "http://"),
    ({"deployments": {"blue": {"instances": [], "request_timeout_ms": 0}}, "traffic": {"blue": 100}},
     "request_timeout_ms"),
    ({"deployments": {f"dep-{i:02d}": {"instances": []} for i in range(21)}, "traffic": {}}, "at most 20"),
    ({"version": -1}, "version"),
])
def test_invalid_configs_name_the_problem(over, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        validate_config(config(**over))


def test_redact_hides_secrets():
    out = redact(validate_config(config()))
    assert out["keys"] == {"primary": "***", "secondary": "***"} and out["admin_token"] == "***"
    assert "p" * 32 not in json.dumps(out)


# --- payloads ---------------------------------------------------------------------------------


def test_input_data_split_becomes_dataframe_split():
    payload = {"input_data": {"columns": ["a", "b"], "index": [0, 1], "data": [[1, 2], [3, 4]]}}
    assert to_mlflow(payload) == {"dataframe_split": {"columns": ["a", "b"], "index": [0, 1],
                                                      "data": [[1, 2], [3, 4]]}}
    no_index = {"input_data": {"columns": ["a"], "data": [[1]]}, "params": {"threshold": 0.3}}
    assert to_mlflow(no_index) == {"dataframe_split": {"columns": ["a"], "data": [[1]]},
                                   "params": {"threshold": 0.3}}


def test_input_data_records_and_tensors():
    assert to_mlflow({"input_data": [{"a": 1}, {"a": 2}]}) == {"dataframe_records": [{"a": 1}, {"a": 2}]}
    assert to_mlflow({"input_data": [[1, 2], [3, 4]]}) == {"inputs": [[1, 2], [3, 4]]}


# --- HTTP parsing -----------------------------------------------------------------------------


def test_parse_head():
    method, path, keep, headers, length, chunked = parse_head(
        b"POST /score?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-Thing: 1\r\nx-thing: 2")
    assert (method, path, keep, length, chunked) == (b"POST", b"/score", True, 12, False)
    assert headers[b"x-thing"] == b"1, 2" and headers[b"host"] == b"a"
    assert parse_head(b"GET / HTTP/1.0")[2] is False
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive")[2] is True
    assert parse_head(b"GET / HTTP/1.1\r\nConnection: close")[2] is False
    assert parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked")[5] is True


@pytest.mark.parametrize("head, status", [
    (b"POST /score HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", 400),
    (b"POST /score HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked", 400),
    (b"POST /score HTTP/1.1\r\nTransfer-Encoding: gzip", 501),
    (b"POST /score HTTP/1.1\r\nContent-Length: -1", 400),
    (b"POST /score HTTP/1.1\r\nBad Header: 1", 400),
    (b"POST /score HTTP/1.1\nHost: a", 400),
    (b"POST /score HTTP/2.0", 505),
    (b"POST /score", 400),
])
def test_parse_head_refuses_smuggling_shapes(head, status):
    with pytest.raises(HttpError) as err:
        parse_head(head)
    assert err.value.status == status


def test_parse_chunked():
    data = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\nNEXT"
    assert parse_chunked(data, 100) == (b"Wikipedia", len(data) - 4)
    assert parse_chunked(data[:10], 100) is None
    with_trailer = b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
    assert parse_chunked(with_trailer, 100) == (b"abc", len(with_trailer))
    with pytest.raises(_TooLarge):
        parse_chunked(b"10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", 15)
    with pytest.raises(HttpError):
        parse_chunked(b"zz\r\n", 100)
    assert MAX_BODY == 1_572_864


# --- data collector ---------------------------------------------------------------------------


def test_input_and_output_records():
    split = {"input_data": {"columns": ["a", "b"], "index": [5, 6], "data": [[1, 2], [3, 4]]}}
    assert col.input_records(split) == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert col.input_records({"dataframe_split": {"columns": ["a"], "data": [[1]]}}) == [{"a": 1}]
    assert col.input_records({"dataframe_records": [{"a": 1}]}) == [{"a": 1}]
    assert col.input_records({"inputs": {"a": [1, 2], "b": [3, 4]}}) == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    assert col.input_records({"instances": [[1, 2]]}) == [{"0": 1, "1": 2}]
    assert col.output_records(b'{"predictions": [1, 0]}') == [{"prediction": 1}, {"prediction": 0}]
    assert col.output_records(b'{"predictions": [{"label": 1, "p": 0.9}]}') == [{"label": 1, "p": 0.9}]
    assert col.output_records(b'{"predictions": {"label": [1, 0]}}') == [{"label": 1}, {"label": 0}]
    assert col.output_records(b'[[0.1, 0.9]]') == [{"prediction": [0.1, 0.9]}]


def test_collector_writes_hourly_json_lines(tmp_path):
    c = col.Collector()
    t1 = datetime(2026, 3, 4, 5, 59, 59, 500000, tzinfo=timezone.utc).timestamp()
    t2 = t1 + 1.0  # the next hour: a new folder
    base = str(tmp_path / "churn-ep" / "blue")
    c.add(base, col.INPUTS, b"req-1", t1, {"input_data": {"columns": ["a"], "data": [[1], [2]]}})
    c.add(base, col.OUTPUTS, "req-1", t1, b'{"predictions": [0, 1]}')
    c.add(base, col.INPUTS, "req-2", t2, {"dataframe_records": [{"a": 3}]})
    c.add(base, col.OUTPUTS, "req-bad", t2, b"not json")  # skipped, counted
    batch, c._buf = c._buf, []
    assert c.write(batch) == 3 and c.errors == 1
    h05 = tmp_path / "churn-ep/blue/model_inputs/2026/03/04/05/data.jsonl"
    h06 = tmp_path / "churn-ep/blue/model_inputs/2026/03/04/06/data.jsonl"
    out05 = tmp_path / "churn-ep/blue/model_outputs/2026/03/04/05/data.jsonl"
    line = json.loads(h05.read_text())
    assert line == {"correlationid": "req-1", "time": "2026-03-04T05:59:59.500000Z",
                    "data": [{"a": 1}, {"a": 2}]}
    assert json.loads(out05.read_text())["data"] == [{"prediction": 0}, {"prediction": 1}]
    assert json.loads(h06.read_text())["correlationid"] == "req-2"


def test_collector_buffer_is_capped():
    c = col.Collector(max_buffered=10)
    for i in range(25):
        c.add("/x", col.INPUTS, str(i), T0, {})
    assert c.pending() == 10 and c.dropped == 15
    assert c._buf[0][2] == "15"  # the oldest went first
