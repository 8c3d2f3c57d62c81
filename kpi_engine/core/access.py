"""Who may do what: roles from e-mail addresses, and the open mode of a local installation.

The dashboard can ask people to sign in (OpenID Connect through Streamlit's ``st.login``,
configured in ``.streamlit/secrets.toml``). A signed-in person gets one :class:`Role`
from the :class:`AccessPolicy` stored with the data:

- ``executive`` reads everything;
- ``finance`` also saves what-if scenarios;
- ``pmo`` also uploads the weekly exports (and saves scenarios).

Without sign-in configured the dashboard runs *open*, as on one person's own computer:
whoever uses it acts in every role, and the dashboard says so (:data:`OPEN_MODE_NOTICE`).
A half-finished sign-in configuration is an error, never a silent fall back to open mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kpi_engine.core.errors import InputError


class Role(StrEnum):
    """What a person does with the dashboard."""

    EXECUTIVE = "executive"
    PMO = "pmo"
    FINANCE = "finance"

    @property
    def label(self) -> str:
        """The role as people write it (``PMO``, ``Finance``, ``Executive``)."""
        return "PMO" if self is Role.PMO else self.value.capitalize()


#: Roles allowed to upload exports (which creates snapshots).
UPLOAD_ROLES = frozenset({Role.PMO})
#: Roles allowed to save, rename and delete what-if scenarios.
SCENARIO_ROLES = frozenset({Role.PMO, Role.FINANCE})

OPEN_MODE_NOTICE = (
    "Sign-in is not configured: this dashboard is running open, as on one person's own computer, "
    "and everyone who reaches it can upload data and save scenarios. Configure sign-in before "
    "sharing it with others."
)

#: The keys ``st.login`` needs: in ``[auth]`` itself ...
AUTH_KEYS = ("redirect_uri", "cookie_secret")
#: ... and for each identity provider (in ``[auth]`` or in a ``[auth.NAME]`` section).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")

_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"[^@\s*]+\.[^@\s*]+")


def can_upload(role: Role) -> bool:
    """Return True when ``role`` may upload exports (PMO only)."""
    return role in UPLOAD_ROLES


def can_save_scenarios(role: Role) -> bool:
    """Return True when ``role`` may save what-if scenarios (PMO and finance)."""
    return role in SCENARIO_ROLES


def parse_role(value: object) -> Role:
    """Return the role a text names (``pmo``, ``PMO``, ``Finance`` ...).

    Raises
    ------
    InputError
        The text names no role.
    """
    text = str(value).strip().lower()
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise InputError(f"unknown role '{value}'; the roles are {known}") from None


def normalise_address(address: str) -> str:
    """Return an e-mail address (or a ``*@domain`` pattern) trimmed and in lower case.

    Raises
    ------
    InputError
        The text is neither an e-mail address nor ``*@domain``.
    """
    text = address.strip().lower()
    if text.startswith("*@"):
        if not _DOMAIN.fullmatch(text[2:]):
            raise InputError(f"'{address}' is not a domain pattern; write it as *@example.com")
        return text
    if not _ADDRESS.fullmatch(text):
        raise InputError(f"'{address}' is not an e-mail address; write it as name@example.com or *@example.com")
    return text


@dataclass(frozen=True)
class AccessPolicy:
    """Roles by e-mail address, for people who sign in.

    ``roles`` maps an exact address (``ana@example.com``) or a whole domain
    (``*@finance.example.com``) to a role; an exact address wins over its domain.
    Signed-in people matching neither get ``default_role`` (executive unless changed:
    reading is the least that signing in grants). Addresses compare without regard to
    case; a domain pattern matches that domain only, not its subdomains.
    """

    roles: Mapping[str, Role] = field(default_factory=dict)
    default_role: Role = Role.EXECUTIVE

    def __post_init__(self) -> None:
        # Normalise once, so that lookups and the stored JSON agree.
        clean = {normalise_address(address): parse_role(role) for address, role in self.roles.items()}
        object.__setattr__(self, "roles", clean)
        object.__setattr__(self, "default_role", parse_role(self.default_role))

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as plain JSON-ready values (addresses sorted)."""
        return {
            "roles": {address: self.roles[address].value for address in sorted(self.roles)},
            "default_role": self.default_role.value,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AccessPolicy:
        """Build a policy from :meth:`to_dict`'s shape.

        Raises
        ------
        InputError
            Unknown keys, a malformed address or pattern, or an unknown role.
        """
        unknown = sorted(set(values) - {"roles", "default_role"})
        if unknown:
            raise InputError(f"unknown access setting '{unknown[0]}'; known settings: roles, default_role")
        roles = values.get("roles") or {}
        if not isinstance(roles, Mapping):
            raise InputError("the access roles must map e-mail addresses to roles")
        return cls(roles=dict(roles), default_role=values.get("default_role", Role.EXECUTIVE.value))

    def with_role(self, address: str, role: Role | str) -> AccessPolicy:
        """Return a copy in which ``address`` (or ``*@domain``) has ``role``."""
        return AccessPolicy({**self.roles, normalise_address(address): parse_role(role)}, self.default_role)

    def without(self, address: str) -> AccessPolicy:
        """Return a copy without the entry for ``address`` (or ``*@domain``)."""
        key = normalise_address(address)
        return AccessPolicy({a: r for a, r in self.roles.items() if a != key}, self.default_role)


def role_for(email: str, policy: AccessPolicy) -> Role:
    """Return the role of a signed-in person.

    Parameters
    ----------
    email
        The address the identity provider vouched for.
    policy
        The stored access policy.

    Returns
    -------
    Role
        The role of the exact address, else of its domain (``*@domain``), else the
        policy's default role.

    Raises
    ------
    InputError
        ``email`` is not an e-mail address (the identity provider sent none).
    """
    address = normalise_address(email)
    if address.startswith("*@"):
        raise InputError(f"'{email}' is a domain pattern, not the address of a person")
    if address in policy.roles:
        return policy.roles[address]
    domain = "*@" + address.rsplit("@", 1)[1]
    return policy.roles.get(domain, policy.default_role)


@dataclass(frozen=True)
class Access:
    """What the person using the dashboard may do.

    ``open_mode`` is True when sign-in is not configured: everyone acts in every role.
    """

    roles: frozenset[Role]
    email: str | None = None
    open_mode: bool = False

    @property
    def can_upload(self) -> bool:
        """True when one of the roles may upload exports."""
        return any(can_upload(role) for role in self.roles)

    @property
    def can_save_scenarios(self) -> bool:
        """True when one of the roles may save scenarios."""
        return any(can_save_scenarios(role) for role in self.roles)

    @property
    def notice(self) -> str | None:
        """What the dashboard must tell people about access: :data:`OPEN_MODE_NOTICE` in open mode."""
        return OPEN_MODE_NOTICE if self.open_mode else None

    def describe(self) -> str:
        """One line for the sidebar, e.g. ``ana@example.com (PMO)`` or ``Open mode (every role)``."""
        if self.open_mode:
            return "Open mode (every role)"
        names = ", ".join(role.label for role in Role if role in self.roles) or "no role"
        return f"{self.email} ({names})"


def open_access() -> Access:
    """Return the access of open mode: no sign-in, every role."""
    return Access(roles=frozenset(Role), email=None, open_mode=True)


def access_for(email: str | None, policy: AccessPolicy, *, sign_in_configured: bool) -> Access | None:
    """Return what the current person may do.

    Parameters
    ----------
    email
        The signed-in person's address, or None when nobody has signed in.
    policy
        The stored access policy.
    sign_in_configured
        Whether sign-in is configured (:func:`sign_in_provider` found a provider).

    Returns
    -------
    Access or None
        Open access when sign-in is not configured; the person's role when signed in;
        None when sign-in is configured but nobody has signed in yet (show the sign-in
        button and nothing else).
    """
    if not sign_in_configured:
        return open_access()
    if not email:
        return None
    return Access(roles=frozenset({role_for(email, policy)}), email=normalise_address(email))


def sign_in_provider(secrets: Mapping[str, Any]) -> str | None:
    """Return the identity provider ``st.login`` should use, or None when sign-in is not configured.

    Reads the ``[auth]`` section of Streamlit's secrets as ``st.login`` does: it needs
    ``redirect_uri`` and ``cookie_secret``, and ``client_id``, ``client_secret`` and
    ``server_metadata_url`` either in ``[auth]`` itself (provider ``"default"``) or in
    a ``[auth.NAME]`` section (the first such section is used).

    Parameters
    ----------
    secrets
        ``st.secrets`` or any mapping of the same shape.

    Returns
    -------
    str or None
        ``"default"``, a provider section's name, or None when there is no ``[auth]``
        section at all.

    Raises
    ------
    InputError
        An ``[auth]`` section exists but lacks keys: a half-made configuration must not
        leave the dashboard open to everyone.
    """
    auth = secrets.get("auth") if hasattr(secrets, "get") else None
    if not auth:
        return None
    if not isinstance(auth, Mapping):
        raise InputError("the [auth] section of .streamlit/secrets.toml must be a table of settings")
    missing = [key for key in AUTH_KEYS if not auth.get(key)]
    providers = [name for name, value in auth.items() if isinstance(value, Mapping)]
    candidates = (["default"] if any(auth.get(key) for key in PROVIDER_KEYS) else []) + providers
    for name in candidates:
        section = auth if name == "default" else auth[name]
        lacking = [key for key in PROVIDER_KEYS if not section.get(key)]
        if not lacking and not missing:
            return name
        missing += [f"{key} (provider {name})" for key in lacking]
    if not candidates:
        missing += list(PROVIDER_KEYS)
    raise InputError(
        "sign-in is configured only in part: the [auth] section of .streamlit/secrets.toml lacks "
        + ", ".join(dict.fromkeys(missing))
        + "; complete it, or remove the section to run without sign-in on a local machine"
    )


def roles_from_text(lines: Iterable[str]) -> dict[str, Role]:
    """Read ``address = role`` lines (a settings form's text area) into a roles mapping.

    Blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    InputError
        A line is not ``address = role``, or names an unknown role or a bad address.
    """
    roles: dict[str, Role] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        address, sep, role = line.partition("=")
        if not sep:
            raise InputError(f"line {number} ('{line}') is not 'address = role', e.g. ana@example.com = pmo")
        roles[normalise_address(address)] = parse_role(role)
    return roles
