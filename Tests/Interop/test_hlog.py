"""The harness's HdrHistogram interval logs (``.hlog``), read by HdrHistogram's own Python
decoder (``hdrh``): every interval decodes, and its count, maximum and p99 are the ones
``result.json`` reports for that interval, for ZManager and for the bare topology."""

import json
import pathlib
import subprocess
import tempfile

from conftest import zmanager_binary
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

SCENARIO = """
topology: {transport: inproc, workers: 2}
workload: {payload: 64}
load: {model: closed, in_flight: 20}
phases: {warmup: 100ms, measure: 1500ms, drain: 2s, interval: 250ms}
calibration: {bare: true, generator: false}
"""


def test_interval_logs_decode_with_hdrhistogram_and_match_result_json():
    with tempfile.TemporaryDirectory() as tmp:
        scenario = pathlib.Path(tmp) / "hlog.yaml"
        scenario.write_text(SCENARIO)
        results = pathlib.Path(tmp) / "results"
        subprocess.run([str(zmanager_binary()), "run", str(scenario), "--results", str(results)],
                       check=True, timeout=120, capture_output=True)
        run = next((results / "hlog").iterdir())
        point = json.loads((run / "result.json").read_text())["points"][0]
        assert point["intervalLogFiles"] == ["p000-zmanager.hlog", "p000-bare.hlog"]
        for name, measurement in zip(point["intervalLogFiles"], [point["zmanager"], point["bare"]]):
            expected = measurement["intervals"]
            reader = HistogramLogReader(str(run / name), HdrHistogram(1, 3_600_000_000_000, 3))
            decoded = []
            while (histogram := reader.get_next_interval_histogram()) is not None:
                decoded.append(histogram)
            # One line per interval that received; result.json may go on with intervals of
            # sends only (nothing came back in them).
            assert len(decoded) >= 6 and all(i["received"] == 0 for i in expected[len(decoded):])
            for histogram, interval in zip(decoded, expected):
                assert histogram.get_total_count() == interval["received"]
                if interval["received"]:
                    assert histogram.get_max_value() == interval["maxNanoseconds"]
                    # The two libraries round a percentile's rank differently (which of two
                    # neighbouring answers is the 99th percentile of a few thousand), so the
                    # reported p99 must lie within the decoded distribution's p98.8–p99.2.
                    low = histogram.get_value_at_percentile(98.8)
                    high = histogram.get_value_at_percentile(99.2)
                    assert low * 0.999 <= interval["p99Nanoseconds"] <= high * 1.001
            assert sum(h.get_total_count() for h in decoded) == measurement["received"]
            # Start times: intervals follow each other from the log's StartTime.
            starts = [h.get_start_time_stamp() for h in decoded]
            assert starts == sorted(starts) and abs((starts[1] - starts[0]) - 250) < 1
