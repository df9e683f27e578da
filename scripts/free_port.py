"""Prints the first port from argv[1] (100 tried) that 127.0.0.1 can bind; exits 1 if none."""

import socket
import sys

first = int(sys.argv[1])
for port in range(first, first + 100):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        sys.exit(0)
sys.exit(1)
