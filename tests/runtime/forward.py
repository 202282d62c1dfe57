"""A TCP forwarder for the tests' second engine (standard library only):

    python forward.py LISTEN TARGET      each one host:port or unix:/path

The engine in its own network namespace pulls deployment images from `127.0.0.1:5000`, as the
manager does: one forwarder listens there inside the namespace and passes each connection to a
unix socket (the file system is shared), where a second one, on the host, passes it to the
registry. No address of the host's network answers for the registry."""
import os
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtime" / "agent"))
from airdock_agent import _pipe as pipe  # the components' agent forwards the same way


def endpoint(text: str):
    if text.startswith("unix:"):
        return socket.AF_UNIX, text[len("unix:"):]
    host, _, port = text.rpartition(":")
    return socket.AF_INET, (host, int(port))


def serve(listen: str, target: str) -> None:
    family, address = endpoint(listen)
    server = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        if os.path.exists(address):
            os.unlink(address)
    else:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(address)
    server.listen(64)
    print(f"forwarding {listen} to {target}", flush=True)
    to_family, to_address = endpoint(target)
    while True:
        client, _ = server.accept()
        upstream = socket.socket(to_family, socket.SOCK_STREAM)
        try:
            upstream.connect(to_address)
        except OSError:
            client.close()
            upstream.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
