"""Access: roles from e-mail addresses, what each role may do, open mode, and the stored policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_engine.core.access import (
    OPEN_MODE_NOTICE,
    Access,
    AccessPolicy,
    Role,
    access_for,
    can_save_scenarios,
    can_upload,
    open_access,
    role_for,
    roles_from_text,
    sign_in_provider,
)
from kpi_engine.core.errors import InputError
from kpi_engine.core.settings import Settings
from kpi_engine.store import Store

POLICY = AccessPolicy(
    {
        "ana@example.com": Role.PMO,
        "*@finance.example.com": Role.FINANCE,
        "boss@finance.example.com": Role.EXECUTIVE,
        "*@pmo.example.com": "pmo",  # type: ignore[dict-item]
    }
)


@pytest.mark.parametrize(
    ("role", "upload", "scenarios"),
    [(Role.PMO, True, True), (Role.FINANCE, False, True), (Role.EXECUTIVE, False, False)],
)
def test_what_each_role_may_do(role: Role, upload: bool, scenarios: bool) -> None:
    assert (can_upload(role), can_save_scenarios(role)) == (upload, scenarios)


@pytest.mark.parametrize(
    ("email", "role"),
    [
        pytest.param("ana@example.com", Role.PMO, id="exact-address"),
        pytest.param("  Ana@Example.COM ", Role.PMO, id="case-and-spaces-ignored"),
        pytest.param("cy@finance.example.com", Role.FINANCE, id="domain-pattern"),
        pytest.param("boss@finance.example.com", Role.EXECUTIVE, id="exact-address-beats-its-domain"),
        pytest.param("dee@pmo.example.com", Role.PMO, id="role-given-as-text"),
        pytest.param("eve@example.com", Role.EXECUTIVE, id="not-listed-gets-the-default"),
        pytest.param("fay@sub.finance.example.com", Role.EXECUTIVE, id="subdomain-is-not-the-domain"),
        pytest.param("gus@evilfinance.example.com", Role.EXECUTIVE, id="lookalike-domain"),
    ],
)
def test_role_for(email: str, role: Role) -> None:
    assert role_for(email, POLICY) == role


def test_the_default_role_for_people_not_listed_can_be_changed() -> None:
    assert role_for("eve@example.com", AccessPolicy(default_role=Role.FINANCE)) == Role.FINANCE


@pytest.mark.parametrize("email", ["", "ana", "ana@", "@example.com", "a b@example.com", "*@example.com"])
def test_role_for_refuses_what_is_not_an_address(email: str) -> None:
    with pytest.raises(InputError):
        role_for(email, POLICY)


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"ana@example.com": "admin"}, "unknown role 'admin'; the roles are executive, pmo, finance"),
        ({"ana": "pmo"}, "'ana' is not an e-mail address"),
        ({"*@": "pmo"}, "'\\*@' is not a domain pattern"),
        ({"*@*.com": "pmo"}, "is not a domain pattern"),
    ],
)
def test_a_policy_refuses_bad_entries(roles: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        AccessPolicy(roles)  # type: ignore[arg-type]


def test_policy_round_trips_through_plain_values() -> None:
    assert POLICY.to_dict() == {
        "roles": {
            "*@finance.example.com": "finance",
            "*@pmo.example.com": "pmo",
            "ana@example.com": "pmo",
            "boss@finance.example.com": "executive",
        },
        "default_role": "executive",
    }
    assert AccessPolicy.from_dict(POLICY.to_dict()) == POLICY
    with pytest.raises(InputError, match="unknown access setting 'admins'"):
        AccessPolicy.from_dict({"admins": []})


def test_with_role_and_without() -> None:
    changed = POLICY.with_role("New@Example.com", "finance").without("ana@example.com")
    assert role_for("new@example.com", changed) == Role.FINANCE
    assert role_for("ana@example.com", changed) == Role.EXECUTIVE


# "*@domain" is how the policy writes a domain pattern, so no person signs in as it
@given(st.emails().filter(lambda email: email.split("@")[0] != "*"))
def test_every_address_gets_exactly_one_role(email: str) -> None:
    assert role_for(email, POLICY) in set(Role)


def test_a_domain_pattern_is_not_taken_for_a_person() -> None:
    with pytest.raises(InputError, match=r"'\*@Example.com' is a domain pattern, not the address of a person"):
        role_for("*@Example.com", POLICY)


def test_open_mode_acts_as_every_role_and_says_so() -> None:
    access = access_for(None, POLICY, sign_in_configured=False)
    assert access == open_access()
    assert access.open_mode and access.roles == frozenset(Role)
    assert access.can_upload and access.can_save_scenarios
    assert access.notice == OPEN_MODE_NOTICE
    assert access.describe() == "Open mode (every role)"


def test_signed_in_access_follows_the_policy() -> None:
    finance = access_for("cy@finance.example.com", POLICY, sign_in_configured=True)
    assert finance == Access(frozenset({Role.FINANCE}), "cy@finance.example.com")
    assert (finance.can_upload, finance.can_save_scenarios, finance.notice) == (False, True, None)
    assert finance.describe() == "cy@finance.example.com (Finance)"
    pmo = access_for("ana@example.com", POLICY, sign_in_configured=True)
    assert pmo is not None and pmo.can_upload and pmo.describe() == "ana@example.com (PMO)"


def test_nobody_signed_in_yet_gets_no_access() -> None:
    assert access_for(None, POLICY, sign_in_configured=True) is None
    assert access_for("", POLICY, sign_in_configured=True) is None


AUTH = {"redirect_uri": "https://kpi.example.com/oauth2callback", "cookie_secret": "s" * 32}
PROVIDER = {
    "client_id": "id",
    "client_secret": "secret",
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}


@pytest.mark.parametrize(
    ("secrets", "provider"),
    [
        pytest.param({}, None, id="no-auth-section"),
        pytest.param({"auth": {**AUTH, **PROVIDER}}, "default", id="default-provider"),
        pytest.param({"auth": {**AUTH, "microsoft": PROVIDER}}, "microsoft", id="named-provider"),
        pytest.param({"other": {"x": 1}}, None, id="unrelated-secrets"),
    ],
)
def test_sign_in_provider(secrets: dict, provider: str | None) -> None:
    assert sign_in_provider(secrets) == provider


@pytest.mark.parametrize(
    ("auth", "missing"),
    [
        pytest.param({**PROVIDER}, "redirect_uri, cookie_secret", id="no-redirect-or-cookie"),
        pytest.param({**AUTH}, "client_id, client_secret, server_metadata_url", id="no-provider"),
        pytest.param({**AUTH, "google": {"client_id": "x"}}, "client_secret (provider google)", id="provider-in-part"),
    ],
)
def test_a_half_made_sign_in_configuration_is_refused_not_left_open(auth: dict, missing: str) -> None:
    with pytest.raises(InputError, match="sign-in is configured only in part") as caught:
        sign_in_provider({"auth": auth})
    assert missing in str(caught.value)


def test_roles_from_text() -> None:
    text = ["# who may upload", "ana@example.com = PMO", "", " *@finance.example.com=finance "]
    assert roles_from_text(text) == {"ana@example.com": Role.PMO, "*@finance.example.com": Role.FINANCE}
    with pytest.raises(InputError, match=r"line 1 \('ana@example.com pmo'\) is not 'address = role'"):
        roles_from_text(["ana@example.com pmo"])


def test_store_keeps_the_policy_beside_the_settings(tmp_path: Path) -> None:
    with Store.open(tmp_path / "kpi.duckdb") as store:
        assert store.access_policy() == AccessPolicy()
        store.save_settings(Settings(currency="EUR"))
        store.save_access_policy(POLICY)
        assert store.settings() == Settings(currency="EUR")  # the policy is no setting of the engine
    with Store.open(tmp_path / "kpi.duckdb") as store:
        assert store.access_policy() == POLICY
        store.save_access_policy(POLICY.without("ana@example.com"))
        assert "ana@example.com" not in store.access_policy().roles
