"""shared.sealing: sites' secrets sealed with AES-256-GCM, bound to site, kind and user."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from devstack.localstack import LocalStack
from shared.sealing import SecretBox, SecretError, new_key
from shared.settings import SecretKeySettings


def test_a_secret_opens_only_with_its_key_site_kind_and_user() -> None:
    box = SecretBox(new_key())
    sealed = box.seal(7, "basic", "monitor", "pa55")
    assert b"pa55" not in sealed and sealed[:1] == b"\x01"
    assert box.open(7, "basic", "monitor", sealed) == "pa55"
    assert box.seal(7, "basic", "monitor", "pa55") != sealed  # a fresh nonce each time
    for site, kind, user in [(8, "basic", "monitor"), (7, "bearer", None), (7, "basic", "root")]:
        with pytest.raises(SecretError, match="does not open"):
            box.open(site, kind, user, sealed)
    with pytest.raises(SecretError, match="does not open"):
        SecretBox(new_key()).open(7, "basic", "monitor", sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretError):
        box.open(7, "basic", "monitor", tampered)


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ=", ""])
def test_a_bad_key_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(SecretError) as raised:
        SecretBox(key)
    assert key == "" or key not in str(raised.value)


def settings(key: str) -> SecretKeySettings:
    return SecretKeySettings(_env_file=None, secret_key=SecretStr(key))  # type: ignore[call-arg]


def test_the_setting_validates_the_key_and_an_empty_one_is_none() -> None:
    assert settings("").secret_box() is None
    assert settings(new_key()).secret_box() is not None
    with pytest.raises(ValueError, match="WEBMON_SECRET_KEY"):
        settings("c2hvcnQ=")


def test_the_local_stack_keeps_one_key_owner_only(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    key = stack.secret_key
    assert LocalStack(tmp_path / "state").secret_key == key
    SecretBox(key)
    mode = (tmp_path / "state" / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_channel_secret_opens_only_for_its_channel_and_kind() -> None:
    box = SecretBox(new_key())
    sealed = box.seal_channel(3, "ntfy", "tk_abc")
    assert b"tk_abc" not in sealed
    assert box.open_channel(3, "ntfy", sealed) == "tk_abc"
    for channel_id, kind in [(4, "ntfy"), (3, "webhook")]:
        with pytest.raises(SecretError, match="does not open"):
            box.open_channel(channel_id, kind, sealed)
    with pytest.raises(SecretError):  # nor as a site's credential
        box.open(3, "bearer", None, sealed)
    key = box.seal_key("dashboard", b"k" * 32)
    assert box.open_key("dashboard", key) == b"k" * 32
    with pytest.raises(SecretError):
        box.open_key("other", key)


def test_a_sender_gets_the_secret_opened_or_a_permanent_failure() -> None:
    from notifier.channels import SendError
    from notifier.payload import Channel
    from notifier.secrets import opened

    box = SecretBox(new_key())
    channel = Channel(3, "ops", "ntfy", {}, None, box.seal_channel(3, "ntfy", "tk_abc"))
    assert opened(channel, box).secret == "tk_abc"
    assert opened(Channel(4, "old", "webhook", {}, "clear"), None).secret == "clear"
    for other in (None, SecretBox(new_key())):
        with pytest.raises(SendError) as failed:
            opened(channel, other)
        assert failed.value.permanent and "WEBMON_SECRET_KEY" in str(failed.value)
        assert "tk_abc" not in str(failed.value)
