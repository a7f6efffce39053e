#!/usr/bin/env python3
"""Scrapes an eventstore /metrics endpoint once a second and writes the dashboard's panels as
gnuplot data (docs/grafana/render-panels.sh draws them): one line per second after the first,
  seconds appends_ok/s appends_conflict/s appends_other/s p50_ms p99_ms events/s in_flight
Rates and quantiles are over the last second, the quantiles interpolated within the
histogram's buckets as Prometheus' histogram_quantile does.

  scrape.py URL SECONDS OUT.dat
"""
import sys
import time
import urllib.request


def scrape(url):
    samples = {}
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def labels(series):
    if "{" not in series:
        return series, {}
    name, rest = series.split("{", 1)
    result = {}
    for part in rest.rstrip("}").split('",'):
        key, value = part.split("=", 1)
        result[key] = value.strip('"')
    return name, result


def total(samples, metric, **want):
    return sum(v for s, v in samples.items()
               if labels(s)[0] == metric and all(labels(s)[1].get(k) == w for k, w in want.items()))


def buckets(samples):
    by_bound = {}
    for series, value in samples.items():
        name, found = labels(series)
        if name == "eventstore_append_seconds_bucket" and found.get("outcome") == "ok":
            bound = float("inf") if found["le"] == "+Inf" else float(found["le"])
            by_bound[bound] = by_bound.get(bound, 0.0) + value
    return by_bound


def quantile(q, before, after):
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return float("nan")
    rank = q * counts[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts):
        if count >= rank:
            if bound == float("inf"):
                return lower_bound * 1000
            return (lower_bound + (bound - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-9)) * 1000
        lower_bound, lower_count = bound, count
    return float("nan")


def main():
    url, seconds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    previous = scrape(url)
    start = time.monotonic()
    with open(out, "w") as f:
        f.write("# seconds appends_ok/s appends_conflict/s appends_other/s p50_ms p99_ms events/s in_flight\n")
        for tick in range(1, seconds + 1):
            time.sleep(max(0.0, start + tick - time.monotonic()))
            try:
                current = scrape(url)
            except OSError:
                break  # the command ended
            ok = total(current, "eventstore_appends_total", outcome="ok") - total(previous, "eventstore_appends_total", outcome="ok")
            conflict = (total(current, "eventstore_appends_total", outcome="version_conflict")
                        - total(previous, "eventstore_appends_total", outcome="version_conflict"))
            every = total(current, "eventstore_appends_total") - total(previous, "eventstore_appends_total")
            events = total(current, "eventstore_appended_events_total") - total(previous, "eventstore_appended_events_total")
            f.write("%d %.1f %.1f %.1f %.3f %.3f %.1f %.0f\n" % (
                tick, ok, conflict, every - ok - conflict, quantile(0.5, buckets(previous), buckets(current)),
                quantile(0.99, buckets(previous), buckets(current)), events,
                total(current, "eventstore_appends_in_flight")))
            previous = current


if __name__ == "__main__":
    main()
