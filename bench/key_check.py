"""Timing of the admin API's key check (#22): a right key, a wrong secret with a right id, an unknown id.

    .venv/bin/python bench/key_check.py [--rounds 20000] [--http 2000]

In one process, interleaved round by round so that load on the machine falls on all three
alike: `ApiKeys.check` on a fresh access database with 50 keys (the lookup by id, SHA-256,
`hmac.compare_digest`), then, with `--http`, whole `GET /api/jobs` calls to a live
`iiif-search serve` on 127.0.0.1 (what an attacker can time). Prints median, p10 and p90
per case, in microseconds, and the spread of the medians relative to the right key's.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

from search_service.web.auth.keys import ApiKeys
from search_service.web.auth.store import AccessStore


def _report(name: str, samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["right key"])
    print(f"{name}:")
    for case, values in samples.items():
        values = sorted(values)
        median = statistics.median(values)
        p10, p90 = values[len(values) // 10], values[len(values) * 9 // 10]
        print(
            f"  {case:<24} median {median:8.2f} us  p10 {p10:8.2f}  p90 {p90:8.2f}  "
            f"({(median - base) / base * 100:+.1f}% vs right key)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--http", type=int, default=2000, help="HTTP calls per case (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        keys = ApiKeys(AccessStore(data_dir))
        for n in range(49):
            keys.add(f"other-{n}")
        right = keys.add("bench")
        key_id, secret = right[6:18], right[19:]
        wrong_secret = f"iiifs_{key_id}_{'A' * 43 if secret != 'A' * 43 else 'B' * 43}"
        unknown_id = f"iiifs_{'0' * 12}_{secret}"
        cases = {"right key": right, "wrong secret, right id": wrong_secret, "unknown id": unknown_id}
        assert keys.check(right) == "bench" and keys.check(wrong_secret) is None and keys.check(unknown_id) is None
        samples: dict[str, list[float]] = {case: [] for case in cases}
        for _ in range(args.rounds):
            for case, key in cases.items():
                started = time.perf_counter_ns()
                keys.check(key)
                samples[case].append((time.perf_counter_ns() - started) / 1000)
        _report(f"ApiKeys.check, {args.rounds} rounds", samples)
        if args.http:
            _http(data_dir, cases, args.http)


def _http(data_dir: Path, cases: dict[str, str], calls: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.reliability.conftest import LiveServer

    server = LiveServer(data_dir)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        samples: dict[str, list[float]] = {case: [] for case in cases}
        for _ in range(calls):
            for case, key in cases.items():
                started = time.perf_counter_ns()
                connection.request("GET", "/api/jobs", headers={"Authorization": f"Bearer {key}"})
                response = connection.getresponse()
                response.read()
                samples[case].append((time.perf_counter_ns() - started) / 1000)
                assert response.status == (200 if case == "right key" else 401), (case, response.status)
        connection.close()
        _report(f"GET /api/jobs over HTTP (keep-alive), {calls} calls per case", samples)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
