"""What Airdock's agent measures in its container, shipped beside it (standard library only):
the container's memory and the processes the kernel killed for it (cgroup v1 or v2), and, in the
scheduler, each worker queue's backlog in the deployment's broker (Redis, spoken over RESP)."""
import json
import os
import socket
import urllib.parse


def _resp(stream, *args):
    """One Redis command over RESP (the broker speaks nothing else; no client library here)."""
    stream.write(b"".join([f"*{len(args)}\r\n".encode()] + [
        f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args]))
    stream.flush()
    return _reply(stream)


def _reply(stream):
    line = stream.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"-":
        raise OSError(f"broker: {rest.decode(errors='replace')}")
    if kind in (b"+", b":"):
        return int(rest) if kind == b":" else rest.decode()
    if kind == b"$":
        return None if int(rest) < 0 else stream.read(int(rest) + 2)[:-2]
    if kind == b"*":
        return [] if int(rest) < 0 else [_reply(stream) for _ in range(int(rest))]
    raise OSError(f"broker: unexpected answer {line[:40]!r}")


def backlog(url_file, queues):
    """Each queue's messages waiting, and those a worker took and has not finished (Airflow's
    Celery acknowledges late: a running task's message stays in `unacked` until it ends)."""
    with open(url_file) as fh:
        url = urllib.parse.urlsplit(fh.read().strip())
    with socket.create_connection((url.hostname, url.port or 6379), timeout=5) as sock:
        stream = sock.makefile("rwb")
        if url.password:
            _resp(stream, "AUTH", urllib.parse.unquote(url.password))
        _resp(stream, "SELECT", (url.path or "/0").strip("/") or "0")
        found = {}
        for queue in queues:  # kombu keeps priorities apart as queue\x06\x16<n>
            waiting = sum(_resp(stream, "LLEN", name) for name in [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)])
            found[queue] = {"waiting": waiting, "running": 0}
        for value in _resp(stream, "HVALS", "unacked") or []:
            try:
                routing_key = json.loads(value)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key in found:
                found[routing_key]["running"] += 1
        return found


CGROUP_V1, CGROUP_V2 = "/sys/fs/cgroup/memory", "/sys/fs/cgroup"


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def memory():
    """The container's memory in use, its limit and how many processes the kernel killed for it."""
    if os.path.exists(f"{CGROUP_V1}/memory.usage_in_bytes"):
        used, limit = _read(f"{CGROUP_V1}/memory.usage_in_bytes"), _read(f"{CGROUP_V1}/memory.limit_in_bytes")
        events = _read(f"{CGROUP_V1}/memory.oom_control")
    else:
        used, limit, events = _read(f"{CGROUP_V2}/memory.current"), _read(f"{CGROUP_V2}/memory.max"), _read(f"{CGROUP_V2}/memory.events")
    kills = [int(line.split()[1]) for line in events.splitlines() if line.startswith("oom_kill ")]
    found = {"oom_kills": kills[0] if kills else 0}
    if used.strip().isdigit():
        found["memory_bytes"] = int(used)
    if limit.strip().isdigit():
        found["memory_limit_bytes"] = int(limit)
    return found
