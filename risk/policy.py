"""The risk policy: levels and actions per rule, consent defaults, loaded from TOML.

The default policy is ``risk/default_policy.toml``; ``--policy FILE`` or ``$VERACITY_POLICY``
names another. A policy file may leave things out (the default fills them in) but may not
name unknown keys, rules, levels or actions: those are configuration errors.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from veracity.errors import ConfigError

LEVELS = ("none", "low", "medium", "high", "critical")
ACTIONS = ("allow", "label-as-ai", "human-review", "block")
USES = ("news", "commentary", "commercial", "political", "ai-training")
OPERATING_POINTS = ("0.01", "0.05", "0.1")
POLICY_ENV = "VERACITY_POLICY"
VERSION = 1


@dataclass(frozen=True)
class RuleSetting:
    level: str
    action: str


@dataclass(frozen=True)
class Policy:
    rules: dict[str, RuleSetting]
    use: str = "news"
    licensee: str = ""
    operating_point: str = "0.05"
    unknown_consent: str = "not_allowed"
    exclusion_uses: tuple[str, ...] = ("news", "commentary")
    source: str = "default"
    version: int = VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def setting(self, rule: str) -> RuleSetting:
        return self.rules[rule]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "defaults": {"use": self.use, "licensee": self.licensee, "operating_point": self.operating_point},
            "consent": {"unknown": self.unknown_consent, "exclusion_uses": list(self.exclusion_uses)},
            "rules": {k: {"level": v.level, "action": v.action} for k, v in self.rules.items()},
        }

    def to_toml(self) -> str:
        d = self.as_dict()
        lines = [f"# policy in force: {self.source}", f"version = {self.version}", "", "[defaults]"]
        lines += [f"{k} = {_toml(v)}" for k, v in d["defaults"].items()]
        lines += ["", "[consent]"] + [f"{k} = {_toml(v)}" for k, v in d["consent"].items()]
        for rule, s in d["rules"].items():
            lines += [
                "",
                f'[rules."{rule}"]',
                f"level = {_toml(s['level'])}",
                f"action = {_toml(s['action'])}",
            ]
        return "\n".join(lines) + "\n"


def _toml(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _default_doc() -> dict[str, Any]:
    text = resources.files("risk").joinpath("default_policy.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _choice(where: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{where} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}[{key}] must be a table")
    return value


def _unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(f"unknown keys in {where}: {', '.join(extra)}")


def from_doc(doc: dict[str, Any], source: str) -> Policy:
    """A policy from a parsed TOML document laid over the default."""
    base = _default_doc()
    where = f"policy {source}: "
    _unknown(doc, {"version", "defaults", "consent", "rules"}, where + "top level")
    version = doc.get("version", VERSION)
    if version != VERSION:
        raise ConfigError(
            f"{where}version {version!r} is not supported (this Veracity reads version {VERSION})"
        )
    defaults = {**base["defaults"], **_table(doc, "defaults", where)}
    _unknown(defaults, set(base["defaults"]), where + "[defaults]")
    consent = {**base["consent"], **_table(doc, "consent", where)}
    _unknown(consent, set(base["consent"]), where + "[consent]")
    rules_doc = _table(doc, "rules", where)
    _unknown(rules_doc, set(base["rules"]), where + "[rules]")
    rules: dict[str, RuleSetting] = {}
    for name, default in base["rules"].items():
        given = rules_doc.get(name, {})
        if not isinstance(given, dict):
            raise ConfigError(f'{where}[rules."{name}"] must be a table')
        _unknown(given, {"level", "action"}, f'{where}[rules."{name}"]')
        merged = {**default, **given}
        rules[name] = RuleSetting(
            _choice(f'{where}rules."{name}".level', merged["level"], LEVELS),
            _choice(f'{where}rules."{name}".action', merged["action"], ACTIONS),
        )
    if rules["likeness.replica-excluded-use"].action == "allow":
        raise ConfigError(
            f"{where}likeness.replica-excluded-use may not allow: excluded uses go to human review, never to automatic allow"
        )
    exclusions = consent["exclusion_uses"]
    if not isinstance(exclusions, list):
        raise ConfigError(f"{where}consent.exclusion_uses must be a list")
    licensee = defaults["licensee"]
    if not isinstance(licensee, str):
        raise ConfigError(f"{where}defaults.licensee must be a string")
    return Policy(
        rules=rules,
        use=_choice(f"{where}defaults.use", defaults["use"], USES),
        licensee=licensee,
        operating_point=_choice(
            f"{where}defaults.operating_point", str(defaults["operating_point"]), OPERATING_POINTS
        ),
        unknown_consent=_choice(f"{where}consent.unknown", consent["unknown"], ("not_allowed", "allowed")),
        exclusion_uses=tuple(_choice(f"{where}consent.exclusion_uses", u, USES) for u in exclusions),
        source=source,
    )


def load_policy(path: Path | None = None, environ: dict[str, str] | None = None) -> Policy:
    """``path``, else ``$VERACITY_POLICY``, else the default policy."""
    env = os.environ if environ is None else environ
    if path is None and env.get(POLICY_ENV):
        path = Path(env[POLICY_ENV])
    if path is None:
        return from_doc({}, "default")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read policy: {exc.strerror or exc}", path=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"policy is not valid TOML: {exc}", path=str(path)) from None
    return from_doc(doc, str(path))
