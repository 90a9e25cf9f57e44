"""No Docker engine runs here: the compose file is validated statically against the
Compose specification's JSON schema, and the container's promises are checked."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent


def test_compose_file_matches_the_compose_spec():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    res = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_services_are_healthchecked_readonly_and_secret_free():
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"repwatch", "db", "redis", "worker", "scheduler", "processor", "caddy"}
    assert services["caddy"]["profiles"] == ["tls"]  # only with --profile tls (tests/test_reach.py)
    for name in ("redis", "worker", "scheduler", "processor"):  # only with --profile scale
        assert services[name]["profiles"] == ["scale"]
    for name in ("worker", "scheduler", "processor"):
        svc = services[name]
        assert svc["command"][0] == name and svc["read_only"] and not svc["user"].startswith("0")
        assert {k: v["condition"] for k, v in svc["depends_on"].items()} == {"db": "service_healthy",
                                                                             "redis": "service_healthy"}
        for key, value in svc["environment"].items():
            assert "${" in value, f"{name}: {key} must come from the environment, not the file"
    for svc in services.values():
        assert svc["healthcheck"]["test"]
    app = services["repwatch"]
    assert any(v.endswith("/etc/repwatch/repwatch.toml:ro") for v in app["volumes"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert not app["user"].startswith("0")
    for key, value in app["environment"].items():
        assert "${" in value, f"{key} must come from the environment, not the file"
    for svc in services.values():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET|URL", key):
                assert "${" in str(value), f"{key} is written into the compose file"


def test_dockerfile_runs_as_non_root_with_the_model_baked_in():
    df = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", df, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "HF_HUB_OFFLINE=1" in df
    assert "load_scorer('builtin')" in df  # the build fails if the model cannot load
    assert "HEALTHCHECK" in df


def test_docker_config_passes_check_config(monkeypatch):
    from monitor.config import load_config

    cfg = load_config(ROOT / "config" / "docker.toml", env={"REPWATCH_DB_URL": "postgresql+psycopg://u:p@db/x",
                                                           "SLACK_URL": "https://hooks.slack.com/services/T/B/XXXX"})
    assert cfg.storage.url.startswith("postgresql+psycopg://")
