"""Configuration: defaults, keyword form, env, auth prefixing, independence, no secrets shown."""

from __future__ import annotations

import certifi

import mds


def test_defaults() -> None:
    cfg = mds.Configuration()
    assert cfg.host == "https://api.us-east-1.mbedcloud.com"
    assert cfg.api_key == {}
    assert cfg.api_key_prefix == {}
    assert cfg.verify_ssl is True
    assert cfg.ssl_ca_cert == certifi.where()
    assert cfg.timeout == (10.0, 30.0)
    assert cfg.long_poll_timeout == 90.0
    assert cfg.debug is False
    assert cfg.proxy is None
    assert cfg.get_api_key_with_prefix() is None


def test_instances_own_their_dicts() -> None:
    a, b = mds.Configuration(), mds.Configuration()
    a.api_key["Authorization"] = "ak_a"
    a.api_key_prefix["Authorization"] = "Bearer"
    assert b.api_key == {}
    assert b.api_key_prefix == {}


def test_keyword_arguments() -> None:
    cfg = mds.Configuration(host="http://127.0.0.1:8080/", api_key="ak_k", verify_ssl=False,
                            timeout=5.0, retries=0, proxy="http://proxy:3128")
    assert cfg.host == "http://127.0.0.1:8080"
    assert cfg.api_key == {"Authorization": "ak_k"}
    assert (cfg.verify_ssl, cfg.timeout, cfg.retries, cfg.proxy) == (False, 5.0, 0, "http://proxy:3128")


def test_bearer_prefix_rules() -> None:
    cfg = mds.Configuration(api_key="ak_1")
    assert cfg.get_api_key_with_prefix("Authorization") == "Bearer ak_1"
    cfg.api_key["Authorization"] = "Bearer ak_2"
    assert cfg.get_api_key_with_prefix() == "Bearer ak_2"
    assert cfg.raw_api_key() == "ak_2"
    cfg.api_key_prefix["Authorization"] = "Bearer"
    cfg.api_key["Authorization"] = "ak_3"
    assert cfg.auth_settings()["Bearer"] == {
        "type": "api_key", "in": "header", "key": "Authorization", "value": "Bearer ak_3"}


def test_from_env() -> None:
    cfg = mds.Configuration.from_env({"MDS_HOST": "http://h:1", "MDS_API_KEY": "ak_env"})
    assert (cfg.host, cfg.api_key["Authorization"]) == ("http://h:1", "ak_env")
    assert mds.Configuration.from_env({}).host == "https://api.us-east-1.mbedcloud.com"
    assert mds.Configuration.from_env({"MDS_API_KEY": "ak_e"}, api_key="ak_kw").api_key == {
        "Authorization": "ak_kw"}


def test_repr_and_debug_report_hide_the_key() -> None:
    cfg = mds.Configuration(api_key="ak_very_secret")
    text = repr(cfg) + cfg.to_debug_report()
    assert "ak_very_secret" not in text
    assert "[secure]" in repr(cfg)
    assert "SDK Package Version: " + mds.__version__ in cfg.to_debug_report()


def test_api_key_as_a_mapping_and_settings_no_longer_used_are_gone() -> None:
    cfg = mds.Configuration(api_key={"Authorization": "ak_m"}, api_key_prefix={"Authorization": "Token"})
    assert cfg.get_api_key_with_prefix() == "Token ak_m"
    # username/password were never used by the service's auth (an API key is); they are gone
    assert not hasattr(cfg, "username")
    assert not hasattr(cfg, "password")
