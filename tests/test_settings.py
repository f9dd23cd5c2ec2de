"""Settings from the environment (or a Flask config), and the app's use of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flask_app import create_app
from webrtc_signal import ConfigError, Settings
from webrtc_signal.settings import DEFAULT_STORE, TABLE, markdown_table


def test_defaults():
    settings = Settings.from_mapping({})
    assert settings.store_url == DEFAULT_STORE == "sqlite:///signal.sqlite"
    assert (settings.ttl, settings.peer_timeout, settings.twilio_timeout) == (300, 10, 5)
    assert settings.cors_origins == ()
    assert settings.twilio_account_sid is None


def test_values_are_read_and_the_token_is_not_shown():
    settings = Settings.from_mapping(
        {
            "SIGNAL_STORE": "memory://",
            "SIGNAL_TTL": "60",
            "SIGNAL_PEER_TIMEOUT": "2.5",
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "hunter2",
            "CORS_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert (settings.store_url, settings.ttl, settings.peer_timeout) == ("memory://", 60, 2.5)
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_bad_numbers_fail_clearly(value):
    with pytest.raises(ConfigError, match="SIGNAL_TTL"):
        Settings.from_mapping({"SIGNAL_TTL": value})


def test_app_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SIGNAL_STORE", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("SIGNAL_PEER_TIMEOUT", "3")
    app = create_app()
    signaling = app.extensions["webrtc_signal"]
    assert signaling.store.path == tmp_path / "env.sqlite"
    assert signaling.peer_timeout == 3
    signaling.store.close()


def test_app_refuses_to_start_on_a_bad_store():
    with pytest.raises(ConfigError, match="unknown scheme"):
        create_app({"SIGNAL_STORE": "nosuch://here"})


def test_cors_is_closed_by_default_and_open_to_listed_origins(store_url):
    closed = create_app({"SIGNAL_STORE": store_url}).test_client()
    resp = closed.get("/signal?type=offer", headers={"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers

    app = create_app({"SIGNAL_STORE": store_url, "CORS_ORIGINS": "https://friend.example"})
    resp = app.test_client().get("/signal?type=offer", headers={"Origin": "https://friend.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://friend.example"
    resp = app.test_client().get("/signal?type=offer", headers={"Origin": "https://other.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_client_address_comes_from_trusted_proxies_only(store_url):
    def seen_address(app):
        @app.get("/__address")
        def address():
            from flask import request

            return {"address": request.remote_addr}

        headers = {"X-Forwarded-For": "203.0.113.9"}
        return app.test_client().get("/__address", headers=headers).json["address"]

    direct = create_app({"SIGNAL_STORE": store_url})
    assert seen_address(direct) == "127.0.0.1"
    proxied = create_app({"SIGNAL_STORE": store_url, "SIGNAL_TRUSTED_PROXIES": "1"})
    assert seen_address(proxied) == "203.0.113.9"
    with pytest.raises(ConfigError, match="SIGNAL_TRUSTED_PROXIES"):
        Settings.from_mapping({"SIGNAL_TRUSTED_PROXIES": "one"})


def test_the_readme_table_is_the_settings_table():
    """One table of settings: Settings reads it, the Flask config takes its names, and the
    README shows it as it is."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert markdown_table() in readme
    assert {field.name for field in dataclasses.fields(Settings)} - {"instance_path"} == {
        setting.attribute for setting in TABLE
    }


@pytest.mark.parametrize("limit", ["60 per sec0nd", "lots"])
def test_a_bad_rate_limit_is_a_config_error(limit):
    with pytest.raises(ConfigError, match="SIGNAL_RATE_LIMIT"):
        Settings.from_mapping({"SIGNAL_RATE_LIMIT": limit})
