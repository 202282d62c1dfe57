"""DAGs of the runtime scenarios' projects, for either Airflow line."""
from pathlib import Path

from tests.projects import GOOD_DAG_2, GOOD_DAG_3

PROBE = (Path(__file__).parents[1] / "security" / "probe.py").read_text()

LONG_DAG = '''\
import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def long_dag():
    @task
    def slow():
        time.sleep(SECONDS)
        return "slept"

    @task
    def after(value):
        return value

    after(slow())


long_dag()
'''

CAPPED_DAG = '''\
import time
from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def capped_dag():
    @task(execution_timeout=timedelta(seconds=45), retries=0)
    def capped():
        time.sleep(600)

    capped()


capped_dag()
'''

WIDE_DAG = '''\
import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def wide_dag():
    @task
    def busy(n):
        time.sleep(20)
        return n

    busy.expand(n=list(range(8)))


wide_dag()
'''

# Tasks on two queues, each saying which component ran it (the agent sets AIRDOCK_COMPONENT).
QUEUES_DAG = '''\
import os
import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def queues_dag():
    @task(queue="heavy")
    def heavy_a():
        time.sleep(40)
        return os.environ.get("AIRDOCK_COMPONENT", "")

    @task(queue="heavy")
    def heavy_b():
        time.sleep(40)
        return os.environ.get("AIRDOCK_COMPONENT", "")

    @task
    def light():
        return os.environ.get("AIRDOCK_COMPONENT", "")

    heavy_a()
    heavy_b()
    light()


queues_dag()
'''

# A task that takes more memory than its queue's workers have (1.5 GiB, every page touched).
HOG_DAG = '''\
from datetime import datetime

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def hog_dag():
    @task(queue="heavy", retries=0)
    def hog():
        block = bytearray(1536 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        return len(block)

    hog()


hog_dag()
'''

# A task that needs the deployment's environment variables: the secret one (checked against its
# hash, given as the run's conf) and the plain one (returned).
ENV_DAG = '''\
import hashlib
import os
from datetime import datetime

from airflow.sdk import dag, task


@dag(start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def env_dag():
    @task
    def check(**context):
        secret = os.environ.get("WAREHOUSE_PASSWORD", "")
        assert hashlib.sha256(secret.encode()).hexdigest() == context["dag_run"].conf["sha256"], "no secret variable"
        print(f"connecting with password {secret}")  # Airflow masks it in the task's log
        return os.environ.get("WAREHOUSE_HOST", "")

    check()


env_dag()
'''

# The containment probe (tests/security/probe.py) as a DAG task: it tries Airdock's services on every
# address it is given, and each (host, port) of `others` (another deployment's) and of `own` (its
# own deployment's database, broker and API server: the positive control), and returns what answered.
PROBE_DAG = PROBE + r'''

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="airdock_probe", start_date=datetime(2025, 1, 1), schedule=None, catchup=False)
def airdock_probe():
    @task
    def probe(**context):
        conf = context["dag_run"].conf or {}
        with ThreadPoolExecutor(16) as pool:
            reached = {}
            for part in pool.map(lambda host: main([host]), conf.get("hosts", [])):
                reached.update(part)

            def pairs(key):
                found = conf.get(key, [])
                answers = pool.map(lambda hp: talk(hp[0], hp[1], b"GET / HTTP/1.0\r\n\r\n"), found)
                return {f"{h}:{p}": answer for (h, p), answer in zip(found, answers)}

            return json.dumps({"reached": reached, "others": pairs("others"), "own": pairs("own")})

    probe()


airdock_probe()
'''


def for_line(major: int, text: str) -> str:
    return text if major >= 3 else text.replace("from airflow.sdk import dag, task", "from airflow.decorators import dag, task")


def example(major: int) -> str:
    return GOOD_DAG_3 if major >= 3 else GOOD_DAG_2
