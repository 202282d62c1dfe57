"""Import every DAG file with Airflow's DagBag, as `astro dev parse` does, and print the results.

Runs inside the deploy's image (any Airflow 2.x or 3.x), without network and without a metadata
database: Connections, Variables and environment variables that do not exist at parse time get
placeholder values, so a DAG that reads them at module level still parses. Files listed in
.astro/dag_integrity_exceptions.txt are skipped. The last line of output is
`AIRDOCK_PARSE_RESULT <json>`.

Usage: python parse_dags.py DAGS_FOLDER PROJECT_ROOT
"""
import json
import os
import re
import sys
import time

MARK = "AIRDOCK_PARSE_RESULT "
PLACEHOLDER = "airdock-parse-placeholder"

dags_folder = os.path.abspath(sys.argv[1])
project_root = os.path.abspath(sys.argv[2])
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = dags_folder
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH"] = "10"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite:////tmp/airdock-check/airflow.db")
user_code = (dags_folder, project_root, "/usr/local/airflow/include", "/usr/local/airflow/plugins")


class PlaceholderDict(dict):
    def __missing__(self, key):
        return PLACEHOLDER


def _from_user_code(depth=2):
    frame = sys._getframe(depth)
    return frame is not None and frame.f_code.co_filename.startswith(user_code)


# Environment variables: a missing one read with os.environ[...] from the project's own code gets
# a placeholder; os.getenv / .get / `in` keep their normal meaning.
_Environ = type(os.environ)
_getitem = _Environ.__getitem__


def _environ_getitem(self, key):
    try:
        return _getitem(self, key)
    except KeyError:
        if _from_user_code():
            return PLACEHOLDER
        raise


def _environ_get(self, key, default=None):
    try:
        return _getitem(self, key)
    except KeyError:
        return default


def _environ_contains(self, key):
    try:
        _getitem(self, key)
        return True
    except KeyError:
        return False


_Environ.__getitem__ = _environ_getitem
_Environ.get = _environ_get
_Environ.__contains__ = _environ_contains

import airflow  # noqa: E402

AIRFLOW_VERSION = airflow.__version__


def _variable_get(cls_or_key, *args, **kwargs):
    key = cls_or_key if isinstance(cls_or_key, str) else (args[0] if args else kwargs.get("key"))
    env_value = os.environ.get(f"AIRFLOW_VAR_{str(key).upper()}")
    deserialize = kwargs.get("deserialize_json", False)
    if env_value is not None:
        return json.loads(env_value) if deserialize else env_value
    for name in ("default_var", "default"):
        if name in kwargs:
            return kwargs[name]
    rest = args[1:] if not isinstance(cls_or_key, str) else args
    if rest:
        return rest[0]
    return PlaceholderDict() if deserialize else PLACEHOLDER


def _placeholder_connection(conn_id):
    env_uri = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    for module, name in (("airflow.sdk", "Connection"), ("airflow.models.connection", "Connection")):
        try:
            cls = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):
            continue
        try:
            if env_uri and hasattr(cls, "from_uri"):
                return cls.from_uri(env_uri, conn_id=conn_id) if module == "airflow.sdk" else cls(conn_id=conn_id, uri=env_uri)
            if env_uri:
                return cls(conn_id=conn_id, uri=env_uri)
            return cls(conn_id=conn_id, conn_type="generic", host=PLACEHOLDER, login=PLACEHOLDER,
                       password=PLACEHOLDER, schema=PLACEHOLDER, port=1)
        except Exception:  # noqa: BLE001 - try the next Connection class
            continue
    raise RuntimeError(f"cannot build a placeholder connection for {conn_id}")


def _patch(module_name, class_name, attribute, replacement):
    try:
        module = __import__(module_name, fromlist=[class_name])
        cls = getattr(module, class_name)
    except (ImportError, AttributeError):
        return
    setattr(cls, attribute, classmethod(replacement))


for module_name in ("airflow.models.variable", "airflow.models", "airflow.sdk", "airflow.sdk.definitions.variable"):
    _patch(module_name, "Variable", "get", lambda cls, *a, **k: _variable_get(cls, *a, **k))
for module_name in ("airflow.hooks.base", "airflow.sdk", "airflow.sdk.bases.hook"):
    _patch(module_name, "BaseHook", "get_connection", lambda cls, conn_id: _placeholder_connection(conn_id))
for module_name in ("airflow.models.connection", "airflow.models", "airflow.sdk", "airflow.sdk.definitions.connection"):
    _patch(module_name, "Connection", "get_connection_from_secrets", lambda cls, conn_id: _placeholder_connection(conn_id))
    _patch(module_name, "Connection", "get", lambda cls, conn_id: _placeholder_connection(conn_id))

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag


def _exceptions():
    path = os.path.join(project_root, ".astro", "dag_integrity_exceptions.txt")
    skipped = set()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip()
                if line:
                    skipped.add(os.path.normpath(line.lstrip("./")))
    return skipped


def _dag_files():
    try:
        from airflow.utils.file import list_py_file_paths
        files = list_py_file_paths(dags_folder, include_examples=False)
    except (ImportError, TypeError):
        files = [os.path.join(d, f) for d, _, fs in os.walk(dags_folder) for f in fs if f.endswith(".py")]
    return sorted(str(f) for f in files)


def _dag_bag(path):
    try:
        return DagBag(dag_folder=path, include_examples=False)
    except TypeError:  # Airflow 3.3 dropped the argument: its DagBag never loads the examples here
        return DagBag(dag_folder=path)


def _failing_line(path, error):
    lines = [int(n) for p, n in re.findall(r'File "([^"]+)", line (\d+)', error) if p == path]
    return lines[-1] if lines else None


def main():
    skipped = _exceptions()
    results = []
    for path in _dag_files():
        rel_project = os.path.relpath(path, os.path.dirname(dags_folder))
        rel_dags = os.path.relpath(path, dags_folder)
        if rel_project in skipped or rel_dags in skipped:
            results.append({"file": rel_project, "skipped": True, "dag_ids": [], "error": None, "line": None, "seconds": 0})
            print(f"skipped {rel_project} (.astro/dag_integrity_exceptions.txt)")
            continue
        started = time.monotonic()
        bag = _dag_bag(path)
        seconds = round(time.monotonic() - started, 3)
        errors = [str(e) for f, e in bag.import_errors.items() if os.path.abspath(f) == path]
        error = "\n".join(errors) or None
        dag_ids = sorted(bag.dags)
        results.append({
            "file": rel_project, "skipped": False, "dag_ids": dag_ids, "error": error,
            "line": _failing_line(path, error) if error else None, "seconds": seconds,
        })
        if error:
            last = [line for line in error.splitlines() if line.strip()][-1:] or ["import failed"]
            line = results[-1]["line"]
            print(f"ERROR {rel_project}{f' line {line}' if line else ''}: {last[0].strip()}")
        else:
            print(f"ok {rel_project}: {', '.join(dag_ids) or 'no DAGs'} ({seconds:.2f} s)")
    summary = {
        "airflow_version": AIRFLOW_VERSION,
        "files": results,
        "dag_ids": sorted({d for r in results for d in r["dag_ids"]}),
        "error_count": sum(1 for r in results if r["error"]),
    }
    print(MARK + json.dumps(summary), flush=True)


main()
