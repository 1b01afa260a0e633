"""A load generator for machines without wrk: keep-alive HTTP clients in separate processes.

Usage: load.py URL HEADERS_JSON SECONDS CONNECTIONS; prints requests per second.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from multiprocessing import Pool
from urllib.parse import urlsplit


def _client(args: tuple[str, dict[str, str], float]) -> int:
    url, headers, seconds = args
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        response.read()
        done += 1
    connection.close()
    return done


def main() -> None:
    url, headers, seconds, connections = (
        sys.argv[1],
        json.loads(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    with Pool(connections) as pool:
        counts = pool.map(_client, [(url, headers, seconds)] * connections)
    print(sum(counts) / seconds)


if __name__ == "__main__":
    main()
