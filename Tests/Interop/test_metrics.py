"""``/metrics`` of ``zmanager serve``, read by the Prometheus Python client's own text-format
parser: the page parses, and counters and the per-flow latency histogram move with traffic."""

import urllib.request
import uuid

from conftest import cpython_bytes
from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str) -> dict:
    """Every sample of the page, by (name, sorted labels)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):  # raises on anything malformed
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_parse_and_move_with_traffic(make_core, raw_peer):
    core = make_core("tcp", workers=2, extra_config="metrics:\n  listen: 127.0.0.1:0\nlimits:\n  flow_timeout: 30s\n")
    ready = core.output.wait_for("ready ", timeout=5)
    url = dict(part.split("=", 1) for part in ready.split() if "=" in part)["metrics"]
    before = scrape(url)
    assert before[("zmanager_flow_results_total", ())] == 0

    peer = raw_peer(core.endpoints)
    peer.subscribe(b"Stamp~~~~done~", b"zmanager_error~")
    count = 30
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for uid in ids:
        peer.push.send(b"Stamp~~svcA~Stamp~Push~" + uid.encode() + b"~" + cpython_bytes({"n": 1}))
    seen = set()
    while len(seen) < count:
        frame = peer.receive(lambda f: f.startswith(b"Stamp~"))
        seen.add(frame.split(b"~")[5].decode())
    assert seen == set(ids)
    peer.push.send(b"NoSuchFlow~~svcA~X~Push~" + str(uuid.uuid4()).encode() + b"~" + cpython_bytes({}))
    peer.receive(lambda f: f.startswith(b"zmanager_error~"))

    after = scrape(url)
    assert after[("zmanager_flow_results_total", ())] == count
    assert after[("zmanager_flows_started_total", ())] == count + 1
    assert after[("zmanager_errors_total", (("kind", "unknown_flow"),))] == 1
    assert after[("zmanager_flow_duration_seconds_count", (("flow", "Stamp"),))] == count
    assert after[("zmanager_flow_duration_seconds_bucket", (("flow", "Stamp"), ("le", "+Inf")))] == count
    assert 0 < after[("zmanager_flow_duration_seconds_sum", (("flow", "Stamp"),))] < 30 * count
    assert after[("zmanager_flows_in_flight", ())] == 0
