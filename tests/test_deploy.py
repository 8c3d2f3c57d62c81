"""The team deployment in deploy/: the compose file read as Docker Compose reads it, and the weekly job run for real.

Docker itself is not run here: the compose file is parsed and checked (services, the app's
store, the proxy's configuration, volumes, variables); the weekly job's script runs against
a database file, an inbox folder and a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from builders import FLEET_DIR
from loop.servers import smtp_server

from kpi_engine import cli
from kpi_engine.store import Store

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
#: Values for the variables compose.yaml reads from deploy/.env, as an operator would set them.
ENV = {
    "POSTGRES_PASSWORD": "pw",
    "COOKIE_SECRET": "secret",
    "DASHBOARD_URL": "https://kpi.example.com",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` as Docker Compose does."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, how, rest = match.groups()
        if env.get(name):
            return env[name]
        if how == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if how == "-" else ""

    return _VARIABLE.sub(one, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return interpolate(raw, ENV if env is None else env)  # type: ignore[no-any-return]


def test_the_services_of_a_team_deployment() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "app", "proxy", "weekly"}
    assert services["postgres"]["image"] == "postgres:15"
    assert int(services["app"]["deploy"]["replicas"]) >= 2
    assert int(compose({**ENV, "APP_REPLICAS": "7"})["services"]["app"]["deploy"]["replicas"]) == 7
    assert "ports" not in services["app"]  # reached only through the proxy
    assert services["proxy"]["ports"] == ["80:80", "443:443"]
    for name in ("app", "weekly"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def test_the_app_and_the_job_share_one_store_on_postgresql() -> None:
    services = compose()["services"]
    urls = {services[name]["environment"]["KPI_DB"] for name in ("app", "weekly")}
    (url,) = urls
    parts = urlsplit(url)
    assert (parts.scheme, parts.username, parts.password, parts.hostname, parts.port, parts.path) == (
        "postgresql", "kpi", "pw", "postgres", 5432, "/kpi",
    )  # fmt: skip
    postgres = services["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"]) == ("kpi", "pw", "kpi")
    (data_path,) = parse_qs(parts.query)["data_path"]
    for name in ("app", "weekly"):  # every process that opens the store mounts its data folder
        assert f"lake:{data_path.rstrip('/')}" in services[name]["volumes"]
    app = services["app"]["environment"]
    assert app["KPI_AUTOLOAD_SAMPLE"] == "0"
    assert app["STREAMLIT_SERVER_COOKIE_SECRET"] == "secret"


def test_the_proxy_mounts_its_caddyfile_with_sticky_sessions_to_every_replica() -> None:
    services = compose()["services"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    port = services["app"]["expose"][0]
    assert re.search(rf"^\s*dynamic a app {port}\b", caddyfile, re.M)
    assert re.search(r"^\s*lb_policy cookie \w+", caddyfile, re.M)
    assert caddyfile.count("{") == caddyfile.count("}")
    # the app listens where the proxy sends
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"--server.port={port}" in dockerfile and "--server.address=0.0.0.0" in dockerfile


def test_every_variable_compose_requires_is_in_the_example_env_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    required = {m.group(1) for m in _VARIABLE.finditer(text) if m.group(2) == "?"}
    used = {m.group(1) for m in _VARIABLE.finditer(text)}
    example = {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines() if "=" in line}
    assert required == {"POSTGRES_PASSWORD", "COOKIE_SECRET", "DASHBOARD_URL"}
    assert used <= example
    for name in required:
        with pytest.raises(KeyError, match=name):
            compose({k: v for k, v in ENV.items() if k != name})


def test_every_named_volume_is_declared() -> None:
    spec = compose()
    named = {
        mount.split(":")[0]
        for service in spec["services"].values()
        for mount in service.get("volumes", [])
        if not mount.startswith((".", "/"))
    }
    assert named == set(spec["volumes"])


def test_the_image_installs_the_pinned_requirements_and_copies_what_runs() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M)
    assert python is not None
    requires = re.search(r'requires-python = ">=(\d+\.\d+)"', (REPO / "pyproject.toml").read_text())
    assert requires is not None and python.group(1) == requires.group(1)
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, _target = line.split()[1:]
            for source in sources:
                assert (REPO / source).exists(), source
    assert 'CMD ["python", "-m", "ui.serve"' in dockerfile  # the README's start


def test_the_image_compiles_every_python_source_it_copies_before_it_drops_root() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    compiled = re.search(r"^RUN python -m compileall -q (.+)$", dockerfile, re.M)
    assert compiled is not None
    copied = {
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
        # the sample's data folder holds the script that wrote it, which the image never runs
        if source.endswith(".py") or (not source.startswith("data/") and any((REPO / source).glob("**/*.py")))
    }
    assert copied == set(compiled.group(1).split())
    assert dockerfile.index("compileall") < dockerfile.index("USER ")
    # what it names compiles (a syntax error would fail the image's build)
    for source in sorted(copied):
        for path in [REPO / source] if source.endswith(".py") else sorted((REPO / source).glob("**/*.py")):
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_the_weekly_job_runs_commands_the_cli_accepts() -> None:
    script = (DEPLOY / "weekly.sh").read_text()
    assert subprocess.run(["sh", "-n", str(DEPLOY / "weekly.sh")], check=False).returncode == 0
    commands = [shlex.split(line.split("||")[0]) for line in script.splitlines() if "python -m kpi_engine" in line]
    assert [argv[3] for argv in commands] == ["ingest", "notify", "compact"]
    parser = cli.build_parser()
    for argv in commands:
        parser.parse_args([arg.replace("$", "") for arg in argv[3:]])
    assert compose()["services"]["weekly"]["command"] == ["sh", "deploy/weekly.sh"]
    assert "COPY deploy/weekly.sh deploy/weekly.sh" in (DEPLOY / "Dockerfile").read_text()


@pytest.mark.slow
def test_the_weekly_job_ingests_the_inbox_and_sends_the_digests(tmp_path: Path) -> None:
    inbox = tmp_path / "exports"
    inbox.mkdir()
    for csv in FLEET_DIR.glob("*.csv"):
        shutil.copy(csv, inbox)
    db = tmp_path / "kpi.duckdb"
    now = datetime.now()
    if now.second > 45:  # the job looks at once; start it well inside the minute it is told
        time.sleep(61 - now.second)
        now = datetime.now()
    with smtp_server() as (port, mailbox):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "KPI_DB": str(db),
            "KPI_INBOX": str(inbox),
            "WEEKLY_AT": f"{now.isoweekday()}-{now:%H:%M}",
            "DASHBOARD_URL": "https://kpi.example.com",
            "KPI_SMTP_HOST": "127.0.0.1",
            "KPI_SMTP_PORT": str(port),
            "KPI_SMTP_FROM": "pmo@fleet.example",
        }
        job = subprocess.Popen(
            ["sh", str(DEPLOY / "weekly.sh")],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        assert job.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(job.stdout or ()), daemon=True)
        reader.start()
        try:
            deadline = datetime.now() + timedelta(seconds=180)
            while not any(line.startswith("weekly job: run of") for line in lines) and datetime.now() < deadline:
                time.sleep(0.5)
        finally:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)
            reader.join(timeout=10)
    assert f"weekly job: run of {now:%Y-%m-%d} done\n" in lines, "".join(lines)
    assert f"{db} is a database file: it keeps its storage in one file, nothing to compact.\n" in lines
    assert mailbox.received
    assert "https://kpi.example.com" in mailbox.received[0].text
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(p.name for p in FLEET_DIR.glob("*.csv"))
    with Store.open(db) as store:
        assert len(store.snapshot_ids()) == 1
        assert store.loop_log.runs().height == 1
