"""The LocalStack that the tests and `make stack` start (scripts/localstack_host.py) answers on
the loopback only: it takes any credentials, so no other machine may reach it."""

from __future__ import annotations

import socket

import psutil
import pytest

from scripts.localstack_host import LocalStackProcess

pytestmark = pytest.mark.localstack


def listening_sockets(pid: int) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP listener and unconnected UDP socket (a server's, such
    as LocalStack's DNS) of `pid` and its descendants."""
    root = psutil.Process(pid)
    found = []
    for process in [root, *root.children(recursive=True)]:
        for conn in process.net_connections(kind="inet"):
            serving = conn.status == psutil.CONN_LISTEN
            serving |= conn.type == socket.SOCK_DGRAM and not conn.raddr
            if serving:
                found.append((process.pid, conn.laddr.ip, conn.laddr.port))
    return found


def test_every_listening_socket_is_on_the_loopback(localstack: LocalStackProcess) -> None:
    found = listening_sockets(localstack.process.pid)
    assert localstack.port in {port for _, _, port in found}, f"gateway not found in {found}"
    beyond = [entry for entry in found if entry[1] != "127.0.0.1"]
    assert not beyond, f"LocalStack listens beyond 127.0.0.1: {beyond}"
