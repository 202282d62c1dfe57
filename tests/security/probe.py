"""What an attacker's code would try from inside a build, a check or a task: Airdock's Redis (PING,
then pushing a job), the registry (catalog, a manifest DELETE), the S3 store, PostgreSQL, and the
Docker socket, on every address given. Prints one line: AIRDOCK_PROBE <json of results>."""
import json
import os
import socket
import sys

PORTS = {"redis": 6379, "registry": 5000, "s3": 9100, "postgres": 5432}


def talk(host, port, payload):
    try:
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.settimeout(3)
            conn.sendall(payload)
            try:
                return "open: " + conn.recv(200).decode("latin-1").splitlines()[0][:80]
            except (socket.timeout, IndexError):
                return "open: (no answer)"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timeout"
    except OSError as exc:
        return f"unreachable ({exc.strerror or exc})"


def http(host, port, method, path):
    return talk(host, port, f"{method} {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())


def main(hosts):
    results = {"docker.sock": os.path.exists("/var/run/docker.sock")}
    for host in hosts:
        results[f"redis {host}"] = talk(host, PORTS["redis"], b"PING\r\nRPUSH rq:queue:deploys probe\r\n")
        results[f"registry catalog {host}"] = http(host, PORTS["registry"], "GET", "/v2/_catalog")
        results[f"registry delete {host}"] = http(host, PORTS["registry"], "DELETE", "/v2/acme/deployment-1/manifests/sha256:" + "0" * 64)
        results[f"s3 {host}"] = http(host, PORTS["s3"], "GET", "/")
        results[f"postgres {host}"] = talk(host, PORTS["postgres"], b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
    print("AIRDOCK_PROBE " + json.dumps(results), flush=True)
    return results


if __name__ == "__main__":
    main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.loads(os.environ.get("AIRDOCK_PROBE_HOSTS", '["127.0.0.1"]')))
