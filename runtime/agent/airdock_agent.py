"""Airdock's agent, PID 1 of every Airflow component container (shipped as a Swarm config, so it
does not depend on what the tenant's image holds; standard library only).

It fetches the deployment's DAG bundle from the portal, checks it against its version (the sha256
of the canonical tar), unpacks it beside the old one and swaps a symlink (atomic), before Airflow
starts and whenever the desired version changes, with no restart. It runs the Airflow command as
its child, passes SIGTERM on (a Celery worker's warm shutdown), reaps orphans, and reports to the
portal what it really runs: the bundle on disk, whether Airflow runs, and Airflow's own health
answer where the component serves one.

    python /airdock-agent.py -- airflow scheduler
"""
import collections
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from airdock_agent_metrics import backlog, memory  # shipped beside this file

PORTAL = os.environ.get("AIRDOCK_PORTAL_URL", "").rstrip("/")
DEPLOYMENT = os.environ.get("AIRDOCK_DEPLOYMENT_ID", "")
COMPONENT = os.environ.get("AIRDOCK_COMPONENT", "")
TASK = os.environ.get("AIRDOCK_TASK_ID", "") or os.uname().nodename
BUNDLES = os.environ.get("AIRDOCK_BUNDLE_ROOT", "")
HEALTH_URL = os.environ.get("AIRDOCK_HEALTH_URL", "")
POLL = float(os.environ.get("AIRDOCK_AGENT_POLL", "2"))
REPORT_EVERY = float(os.environ.get("AIRDOCK_AGENT_REPORT_EVERY", "5"))
SECRETS_DIR = os.environ.get("AIRDOCK_SECRETS_DIR", "/run/secrets")  # where Swarm mounts the secrets
TOKEN_FILE = f"{SECRETS_DIR}/agent_token"
PROXY = os.environ.get("AIRDOCK_API_PROXY", "")  # "api-server:8080:18080": name, its port, the local port
API_SERVERS = []  # the API server's addresses as Swarm reports them (the portal passes them on)
QUEUES = []  # the deployment's worker queues (the portal passes them on)
BROKER_STATS = os.environ.get("AIRDOCK_BROKER_STATS") == "1"  # the scheduler's agent reads each queue's backlog
BROKER_URL_FILE = f"{SECRETS_DIR}/broker_url"


LOGS = collections.deque(maxlen=20000)  # [time, text] lines not yet shipped to the portal
LOGS_LOCK = threading.Lock()
LOG_BATCH_BYTES = 512 * 1024
SECRETS = []  # the deployment's secret values, longest first: masked in every line shipped or printed
DROPPED = [0]
INSTALLED = [False]  # a new bundle went in place since the last report


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e6) % 1000000:06d}Z"


def mask(text):
    for value in SECRETS:
        text = text.replace(value, "***")
    return text


def keep(text):
    """Queue a line for the portal (when the queue is full, the oldest go, and the count says so)."""
    if not PORTAL:
        return
    with LOGS_LOCK:
        if len(LOGS) == LOGS.maxlen:
            DROPPED[0] += 1
        LOGS.append([_now(), text])


def log(message):
    line = f"airdock-agent: {message}"
    print(line, file=sys.stderr, flush=True)
    keep(line)


def pump(stream):
    """Copy the child's output to the container's log (masked) and queue each line for the portal."""
    out = sys.stdout.buffer
    for raw in iter(lambda: stream.readline(65536), b""):
        text = mask(raw.decode("utf-8", "replace").rstrip("\r\n"))
        try:
            out.write(text.encode("utf-8", "replace") + b"\n")
            out.flush()
        except OSError:
            pass
        keep(text)


def ship_logs():
    """Send the queued lines, in order, in batches; put them back when the portal does not answer."""
    with LOGS_LOCK:
        batch, size = [], 0
        while LOGS and size < LOG_BATCH_BYTES:
            entry = LOGS.popleft()
            batch.append(entry)
            size += len(entry[1]) + 40
        if DROPPED[0]:
            batch.insert(0, [_now(), f"airdock-agent: {DROPPED[0]} log lines dropped (the portal did not take them in time)"])
            DROPPED[0] = 0
    if not batch:
        return True
    try:
        request("/runtime/agent/logs", {"component": COMPONENT, "task_id": TASK, "lines": batch}, timeout=15)
        return True
    except (OSError, urllib.error.URLError):
        with LOGS_LOCK:
            LOGS.extendleft(reversed(batch[-(LOGS.maxlen - len(LOGS)):] if len(LOGS) < LOGS.maxlen else []))
        return False


def shipper():
    while True:
        time.sleep(1 if ship_logs() else 5)


def request(path, body=None, timeout=30):
    with open(TOKEN_FILE) as fh:
        token = fh.read().strip()
    headers = {"Authorization": f"Bearer {DEPLOYMENT}.{token}"}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(PORTAL + path, data=data, headers=headers, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        return answer.read()


def current_version():
    link = os.path.join(BUNDLES, "current")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else ""


def _keep_mtime_if_unchanged(path, relative, data):
    """A file the bundle before held with the same bytes keeps its modification time, so Airflow's
    DAG processor (which re-parses modified files first) parses only what the deploy changed."""
    before = os.path.join(BUNDLES, "current", relative)
    try:
        if os.path.getsize(before) == len(data):
            with open(before, "rb") as old:
                if old.read() == data:
                    stat = os.stat(before)
                    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    except OSError:  # new in this bundle
        pass


def install(version):
    """Fetch, verify and unpack the bundle, then swap `current` to it in one rename."""
    data = request(f"/runtime/agent/bundles/{version}", timeout=120)
    tar_bytes = gzip.decompress(data)
    if hashlib.sha256(tar_bytes).hexdigest() != version:
        raise ValueError(f"bundle {version[:12]} does not match its version; refused")
    target = os.path.join(BUNDLES, version)
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        for member in archive.getmembers():
            name = member.name
            if not member.isfile() or not name.startswith("dags/") or ".." in name.split("/") or name.startswith("/"):
                raise ValueError(f"bundle {version[:12]} holds an unexpected entry {name!r}; refused")
            relative = name[len("dags/"):]
            path = os.path.join(partial, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = archive.extractfile(member).read()
            with open(path, "wb") as out:
                out.write(data)
            _keep_mtime_if_unchanged(path, relative, data)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(partial, target)
    link = os.path.join(BUNDLES, "current.new")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(version, link)
    os.replace(link, os.path.join(BUNDLES, "current"))
    keep = {version, "current"}
    for old in sorted(os.listdir(BUNDLES), key=lambda n: os.path.getmtime(os.path.join(BUNDLES, n)))[:-3]:
        if old not in keep:  # the two before it stay, for tasks that started on them
            shutil.rmtree(os.path.join(BUNDLES, old), ignore_errors=True)
    INSTALLED[0] = True  # reported at once
    log(f"DAG bundle {version[:12]} in place")


def sync(bundles=True):
    """Learn the desired state; bring the bundle on disk to it (unless draining); return an error or ""."""
    if not PORTAL or not (BUNDLES or PROXY or BROKER_STATS):
        return ""
    try:
        answer = json.loads(request("/runtime/agent/desired", timeout=15))
        API_SERVERS[:] = answer.get("api_servers") or API_SERVERS
        QUEUES[:] = answer.get("queues") or QUEUES
        desired = answer.get("dag_bundle_version", "")
        if bundles and BUNDLES and desired and desired != current_version():
            install(desired)
        return ""
    except (OSError, ValueError, urllib.error.URLError, tarfile.TarError, EOFError) as exc:
        return f"cannot fetch the DAG bundle: {exc}"


def _pipe(source, target):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _upstream(name, port):
    """The API server: by the network's DNS while it answers, else where Swarm last said it runs."""
    candidates = []
    try:
        candidates.append(socket.gethostbyname(name))
    except OSError:
        pass
    candidates += [a for a in API_SERVERS if a not in candidates]
    for address in candidates:
        try:
            return socket.create_connection((address, port), timeout=5)
        except OSError:
            continue
    raise OSError(f"no API server answers (tried {candidates or 'none'})")


def proxy():
    """Forward 127.0.0.1:<local port> to the deployment's API server, whatever its address now."""
    name, port, local = PROXY.rsplit(":", 2)
    server = socket.create_server(("127.0.0.1", int(local)))
    while True:
        client, _ = server.accept()
        try:
            upstream = _upstream(name, int(port))
        except OSError as exc:
            log(str(exc))
            client.close()
            continue
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(source, target), daemon=True).start()


def health():
    if not HEALTH_URL:
        return {}
    try:
        with urllib.request.urlopen(HEALTH_URL, timeout=5) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError) as exc:
        return {"unreachable": str(exc)[:200]}


def metrics():
    found = memory()
    if BROKER_STATS and QUEUES:
        try:
            found["queues"] = backlog(BROKER_URL_FILE, QUEUES)
        except (OSError, ValueError) as exc:
            log(f"cannot read the broker's queues: {exc}")
    return found


def report(process, message=""):
    if not PORTAL:
        return
    body = {"component": COMPONENT, "task_id": TASK, "container": os.uname().nodename, "process": process,
            "dag_bundle_version": current_version() if BUNDLES else "", "airflow_health": health() if process == "running" else {},
            "message": message[:500], "metrics": metrics()}
    try:
        request("/runtime/agent/report", body, timeout=10)
    except (OSError, urllib.error.URLError) as exc:
        log(f"cannot report to the portal: {exc}")


ENV_FILE = f"{SECRETS_DIR}/env"  # the deployment's secret environment variables, as JSON
MASKING = """\
# Written by Airdock's agent: Airflow masks the deployment's secret variables wherever it logs them.
import os


def task_policy(task):
    # Called wherever a task's DAG is parsed, in the task's own process too (whose masker Airflow 3's
    # supervisor resets before it starts), so the task's log is masked. Imported late: this module
    # is loaded while Airflow's settings are still being set up.
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import mask_secret
    for name in filter(None, os.environ.get("AIRDOCK_MASKED_ENV", "").split(",")):
        if os.environ.get(name):
            mask_secret(os.environ[name])
"""


def environment():
    """The child's environment: this one, with the secret variables added, and Airflow told to mask
    them (an airflow_local_settings module in AIRFLOW_HOME/config, which Airflow imports)."""
    env = dict(os.environ)
    try:
        with open(ENV_FILE) as fh:
            secret = json.load(fh)
    except FileNotFoundError:
        return env
    env.update(secret)
    SECRETS[:] = sorted({v for v in secret.values() if isinstance(v, str) and len(v) >= 4}, key=len, reverse=True)
    env["AIRDOCK_MASKED_ENV"] = ",".join(sorted(secret))
    home = env.get("AIRFLOW_HOME")
    if secret and home:
        os.makedirs(os.path.join(home, "config"), exist_ok=True)
        with open(os.path.join(home, "config", "airflow_local_settings.py"), "w") as out:
            out.write(MASKING)
    return env


def main(argv):
    command = argv[argv.index("--") + 1:] if "--" in argv else argv
    if PROXY:
        threading.Thread(target=proxy, daemon=True).start()
    if BUNDLES:
        os.makedirs(BUNDLES, exist_ok=True)
        while True:  # Airflow starts on the desired DAGs, never on none
            error = sync()
            if not error and current_version():
                break
            report("starting", error or "waiting for the DAG bundle")
            log(error or "waiting for the DAG bundle")
            time.sleep(5)
    env = environment()
    env["PYTHONUNBUFFERED"] = "1"  # its lines reach the log as they are written
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reader = threading.Thread(target=pump, args=(child.stdout,), daemon=True)
    reader.start()
    if PORTAL:
        threading.Thread(target=shipper, daemon=True).start()
    stopping = []

    def forward(signum, _frame):
        stopping.append(signum)
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, forward)
    last_report, error = 0.0, ""
    while True:
        try:  # PID 1 reaps every orphan, and notices its own child's end
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid, status = 0, 0
        if pid == child.pid:
            code = os.waitstatus_to_exitcode(status)
            why = " (killed: out of memory)" if code == -signal.SIGKILL and memory()["oom_kills"] else ""
            reader.join(timeout=5)  # its last lines
            log(f"{' '.join(command)} exited with {code}{why}")
            ship_logs()
            report("exited", f"{' '.join(command)} exited with {code}{why}")
            return code if code >= 0 else 128 - code
        if not stopping:
            error = sync()
        elif PROXY:  # a draining worker keeps its DAGs and keeps learning where the API server is
            sync(bundles=False)
        if INSTALLED[0] or time.monotonic() - last_report >= REPORT_EVERY:
            INSTALLED[0] = False
            report("stopping" if stopping else "running", error)
            last_report = time.monotonic()
        time.sleep(POLL if pid == 0 else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
