"""Settings: the secret key comes from the environment, the caller's config, or instance/secret_key."""

from __future__ import annotations

import sosep_migrantes
from sosep_migrantes.config import load_config


def test_a_secret_from_the_environment_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    config = load_config(tmp_path / "instance")
    assert config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "instance").exists()


def test_a_secret_in_the_apps_config_writes_no_file(tmp_path, monkeypatch):
    """create_app(config) with a SECRET_KEY (the tests do) must not write into the checkout's instance/."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(sosep_migrantes, "ROOT", tmp_path)
    app = sosep_migrantes.create_app({"SECRET_KEY": "given", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "given"
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_without_a_secret_one_is_kept_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(tmp_path / "instance")["SECRET_KEY"]
    secret = tmp_path / "instance" / "secret_key"
    assert secret.read_text().strip() == first and len(first) == 64
    assert secret.stat().st_mode & 0o077 == 0
    assert load_config(tmp_path / "instance")["SECRET_KEY"] == first  # sessions survive a restart
