#!/usr/bin/env python3
"""tests/sm_client.py - a raw socketmap client for the tests.

  sm_client.py SOCKET REQFILE      send REQFILE's bytes, print every reply
                                   byte as received until the server closes
                                   or WAIT seconds pass with nothing new
SOCKET is a path (unix) or HOST:PORT (TCP).  Output: the replies exactly,
so a golden file can be compared with cmp.
"""
import os
import socket
import sys

WAIT = float(os.environ.get("SM_WAIT", "0.5"))


def connect(where):
    if "/" in where:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where)
    else:
        host, port = where.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s


def main():
    s = connect(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        s.sendall(f.read())
    s.settimeout(WAIT)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        out += b
    sys.stdout.buffer.write(out)


main()
