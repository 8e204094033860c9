import pytest

from labbook.config import Config, ConfigurationError


def test_production_refuses_to_start_without_a_secret_key():
    settings = {"ENV_NAME": "production", "SECRET_KEY": None,
                "LABBOOK_BASE_URL": "https://labbook.example.cn"}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Config.finalize(settings)


def test_https_base_url_makes_cookies_secure():
    settings = {"ENV_NAME": "production", "SECRET_KEY": "x" * 40,
                "LABBOOK_BASE_URL": "https://labbook.example.cn"}
    Config.finalize(settings)
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_plain_postgres_urls_use_psycopg3(monkeypatch):
    from labbook.config import _database_url

    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url(None).startswith("sqlite:///")
