"""No network access at run time: a full self-test (both tabs' main paths) opens no socket."""

from __future__ import annotations

import subprocess
import sys
import textwrap

GUARD = textwrap.dedent(
    """
    import socket, sys
    attempts = []

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append(name)
            print(f"NETWORK ATTEMPT: {name} {args[:2]!r}", file=sys.stderr, flush=True)
            raise OSError(f"cfx-desktop test: network access refused ({name})")
        return blocked

    LOOPBACK = {"::1", "127.0.0.1", "localhost"}
    refuse_bind = refuse("bind")

    class GuardedSocket(socket.socket):
        connect = refuse("connect")
        connect_ex = refuse("connect_ex")
        sendto = refuse("sendto")

        def bind(self, address):
            # A bind to the loopback interface reaches no network. urllib3 does one on import to probe for IPv6
            # (`_has_ipv6("::1")`), and pydicom imports urllib3 through requests when requests is installed.
            if isinstance(address, tuple) and address[0] in LOOPBACK:
                return super().bind(address)
            return refuse_bind(self, address)

    socket.socket = GuardedSocket
    socket.create_connection = refuse("create_connection")
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.gethostbyname = refuse("gethostbyname")

    import atexit
    from cfx_desktop.cli import main
    # the app ends its own process after its exit handlers (app.finish): the count is printed by one of them
    atexit.register(lambda: print(f"network attempts: {len(attempts)}", flush=True))
    code = main(["--self-test", "--device", "cpu"])
    sys.exit(code if not attempts else 3)
    """
)


def test_self_test_opens_no_socket(subprocess_env) -> None:
    result = subprocess.run([sys.executable, "-c", GUARD], capture_output=True, text=True, env=subprocess_env, timeout=400)
    assert "NETWORK ATTEMPT" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "network attempts: 0" in result.stdout
    assert "0 failed" in result.stdout and "chest X-ray prediction and saliency map" in result.stdout


def test_the_guard_would_catch_an_attempt(subprocess_env) -> None:
    code = GUARD.split("from cfx_desktop.cli import main")[0] + textwrap.dedent(
        """
        try:
            socket.create_connection(("127.0.0.1", 9))
        except OSError:
            pass
        print(len(attempts))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "1" and "NETWORK ATTEMPT" in result.stderr
