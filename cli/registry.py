"""``veracity registry``: people whose likeness is protected, their consent, their templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.exit_codes import ExitCode
from cli.output import check_output_path, echo_error, emit, envelope, render_lines, to_json
from veracity.errors import OutputError, VeracityError

F = TypeVar("F", bound=Callable[..., Any])


def registry_option(func: F) -> F:
    return click.option(
        "--registry",
        "registry_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="VERACITY_REGISTRY",
        help="Registry database [default: $VERACITY_REGISTRY, [registry] path in $VERACITY_CONFIG, "
        "or ~/.local/share/veracity/registry.db].",
    )(func)


def open_registry(path: Path | None, create: bool = True) -> Any:
    from likeness.store import Registry, default_path

    try:
        return Registry(path or default_path(), create=create)
    except VeracityError as exc:
        echo_error(exc.one_line())
        raise SystemExit(ExitCode.USAGE) from exc


def fail(exc: VeracityError) -> None:
    echo_error(exc.one_line())
    raise SystemExit(ExitCode.USAGE) from exc


def parse_consents(items: tuple[str, ...]) -> dict[str, Any]:
    """``use=status[:licensee[:until]]`` → Consent per use."""
    from likeness.store import Consent, validate_consent

    out = {}
    for item in items:
        use, sep, rest = item.partition("=")
        if not sep:
            raise click.BadParameter(
                f"{item!r}: expected USE=STATUS[:LICENSEE[:UNTIL]]", param_hint="--consent"
            )
        status, _, more = rest.partition(":")
        licensee, _, until = more.partition(":")
        c = Consent(status.strip(), licensee.strip() or None, until.strip() or None)
        try:
            validate_consent(use.strip(), c)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--consent") from exc
        out[use.strip()] = c
    return out


def person_options(func: F) -> F:
    for opt in reversed(
        [
            click.option("--alias", "aliases", multiple=True, help="Another name (repeatable)."),
            click.option("--rights-holder", help="Rights holder or representative."),
            click.option("--contact", help="Contact of the rights holder."),
            click.option(
                "--jurisdiction",
                "jurisdictions",
                multiple=True,
                help="Jurisdiction, e.g. EU, US-IL (repeatable).",
            ),
            click.option("--notes"),
            click.option(
                "--consent",
                "consents",
                multiple=True,
                metavar="USE=STATUS[:LICENSEE[:UNTIL]]",
                help="USE: news, commentary, commercial, political, ai_training; STATUS: allowed, not_allowed, "
                "licensed (with licensee and optional YYYY-MM-DD end). Repeatable.",
            ),
        ]
    ):
        func = opt(func)
    return func


def _templates(
    faces: tuple[Path, ...], voices: tuple[Path, ...], keep_media: bool
) -> tuple[list[Any], list[Any]]:
    """Embed every reference or refuse with the first problem; nothing is written before."""
    from detectors.audio import load_audio
    from detectors.media import load_image_rgb
    from detectors.weights import sha256_file
    from likeness.embed import FACE_MODEL, VOICE_MODEL, VOICE_RATE
    from likeness.store import Template

    templates, media = [], []
    if faces:
        from likeness.embed import FaceEmbedder

        fe = FaceEmbedder()
        for p in faces:
            s = fe.enrol(load_image_rgb(p), str(p))
            templates.append(Template("", "face", FACE_MODEL, s.vector, s.detection_prob, sha256_file(p)))
            if keep_media:
                media.append(("face", p.name, p.read_bytes()))
    if voices:
        from likeness.embed import VoiceEmbedder

        ve = VoiceEmbedder()
        for p in voices:
            vec, seconds = ve.enrol(load_audio(p, VOICE_RATE, 600), str(p))
            templates.append(Template("", "voice", VOICE_MODEL, vec, seconds, sha256_file(p)))
            if keep_media:
                media.append(("voice", p.name, p.read_bytes()))
    return templates, media


@click.group()
def registry() -> None:
    """Enrol, list, show, update, remove, export and import protected people."""


@registry.command()
@click.argument("name")
@click.option(
    "--face",
    "faces",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Reference photo with exactly one face (repeatable).",
)
@click.option(
    "--voice",
    "voices",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Reference recording with at least 1.5 s of speech (repeatable).",
)
@person_options
@click.option("--id", "pid", help="Use this id instead of a generated one.")
@click.option(
    "--keep-media", is_flag=True, help="Also store the reference files (encrypted when a key is set)."
)
@registry_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def enroll(
    name: str,
    faces: tuple[Path, ...],
    voices: tuple[Path, ...],
    aliases: tuple[str, ...],
    rights_holder: str | None,
    contact: str | None,
    jurisdictions: tuple[str, ...],
    notes: str | None,
    consents: tuple[str, ...],
    pid: str | None,
    keep_media: bool,
    registry_path: Path | None,
    fmt: str,
) -> None:
    """Enrol NAME with face photos and/or voice clips; only templates are stored unless --keep-media.

    All references are checked first (one face per photo, enough speech per clip): one
    refusal enrols nothing.
    """
    from likeness.store import Person

    if not faces and not voices:
        raise click.UsageError("give at least one --face or --voice reference")
    cons = parse_consents(consents)
    try:
        templates, media = _templates(faces, voices, keep_media)
    except VeracityError as exc:
        fail(exc)
    person = Person(
        pid or "", name, tuple(aliases), rights_holder, contact, tuple(jurisdictions), notes, cons
    )
    with open_registry(registry_path) as reg:
        try:
            added = reg.add_person(person, templates, media)
        except (VeracityError, ValueError) as exc:
            fail(exc if isinstance(exc, VeracityError) else VeracityError(str(exc)))
    _show([added], fmt, "registry enroll")


@registry.command("list")
@registry_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_cmd(registry_path: Path | None, fmt: str) -> None:
    """Every enrolled person: id, name, template counts, consent terms."""
    with open_registry(registry_path) as reg:
        _show(reg.list_persons(), fmt, "registry list")


@registry.command()
@click.argument("ref")
@registry_option
@click.option("--audit", is_flag=True, help="Also show the person's audit log.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def show(ref: str, registry_path: Path | None, audit: bool, fmt: str) -> None:
    """One person by id or unique name/alias."""
    with open_registry(registry_path, create=False) as reg:
        try:
            p = reg.find(ref)
        except VeracityError as exc:
            fail(exc)
        log = reg.audit_log(p.id) if audit else None
    _show([p], fmt, "registry show", audit=log)


@registry.command()
@click.argument("ref")
@click.option("--name")
@person_options
@click.option(
    "--add-face", "faces", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--add-voice", "voices", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@registry_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def update(
    ref: str,
    name: str | None,
    aliases: tuple[str, ...],
    rights_holder: str | None,
    contact: str | None,
    jurisdictions: tuple[str, ...],
    notes: str | None,
    consents: tuple[str, ...],
    faces: tuple[Path, ...],
    voices: tuple[Path, ...],
    registry_path: Path | None,
    fmt: str,
) -> None:
    """Change a person's details or consent terms, or add references."""
    changes: dict[str, Any] = {}
    for key, value in (
        ("name", name),
        ("rights_holder", rights_holder),
        ("contact", contact),
        ("notes", notes),
    ):
        if value is not None:
            changes[key] = value
    if aliases:
        changes["aliases"] = aliases
    if jurisdictions:
        changes["jurisdictions"] = jurisdictions
    if consents:
        changes["consents"] = parse_consents(consents)
    try:
        templates, _ = _templates(faces, voices, False)
    except VeracityError as exc:
        fail(exc)
    with open_registry(registry_path, create=False) as reg:
        try:
            p = reg.find(ref)
            if templates:
                reg.add_templates(p.id, templates)
            p = reg.update_person(p.id, **changes) if changes else reg.get_person(p.id)
        except VeracityError as exc:
            fail(exc)
    _show([p], fmt, "registry update")


@registry.command()
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@registry_option
def remove(ref: str, yes: bool, registry_path: Path | None) -> None:
    """Erase a person: every template and stored medium; the erasure is recorded."""
    with open_registry(registry_path, create=False) as reg:
        try:
            p = reg.find(ref)
        except VeracityError as exc:
            fail(exc)
        if not yes:
            click.confirm(f"Erase {p.name} ({p.id}) and all their templates?", abort=True, err=True)
        counts = reg.remove_person(p.id)
    click.echo(f"erased {p.id}: {counts['templates']} template(s), {counts['media']} stored file(s)")


@registry.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout."
)
@click.option("--force", is_flag=True)
@click.option("--no-templates", is_flag=True, help="People and consent terms only.")
@registry_option
def export_cmd(output: Path | None, force: bool, no_templates: bool, registry_path: Path | None) -> None:
    """The registry as JSON (schema-versioned). Templates are biometric data: guard the file."""
    check_output_path(output, force)
    with open_registry(registry_path, create=False) as reg:
        try:
            doc = reg.export(include_templates=not no_templates)
        except VeracityError as exc:
            fail(exc)
    try:
        emit(json.dumps(doc, indent=1) + "\n", output)
    except OutputError as exc:
        echo_error(exc.one_line())
        raise SystemExit(ExitCode.OUTPUT_FAILED) from exc
    if output is not None:
        output.chmod(0o600)


@registry.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@registry_option
def import_cmd(file: Path, registry_path: Path | None) -> None:
    """Add the people of an export; a malformed file or an existing id imports nothing."""
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        echo_error(f"{file}: not a readable JSON export ({exc}); nothing was imported")
        raise SystemExit(ExitCode.USAGE) from exc
    with open_registry(registry_path) as reg:
        try:
            n = reg.import_(doc)
        except VeracityError as exc:
            fail(exc)
    click.echo(f"imported {n} person(s)")


@registry.command()
def keygen() -> None:
    """Print a new key for VERACITY_REGISTRY_KEY (encryption of templates at rest)."""
    from likeness.crypto import new_key

    click.echo(new_key())


def _show(people: list[Any], fmt: str, command: str, audit: list[dict[str, Any]] | None = None) -> None:
    if fmt == "json":
        doc = envelope(command, [p.as_dict() for p in people], [])
        if audit is not None:
            doc["audit"] = audit
        emit(to_json(doc), None)
        return
    lines: list[tuple[str, str]] = []
    for p in people:
        lines.append(("bold", f"{p.name}  [{p.id}]"))
        if p.aliases:
            lines.append(("", f"  aliases: {', '.join(p.aliases)}"))
        if p.rights_holder or p.contact:
            lines.append(("", f"  rights holder: {p.rights_holder or '?'}  contact: {p.contact or '?'}"))
        if p.jurisdictions:
            lines.append(("", f"  jurisdictions: {', '.join(p.jurisdictions)}"))
        t = ", ".join(f"{k} {v}" for k, v in sorted(p.templates.items())) or "none"
        lines.append(("", f"  templates: {t}"))
        for use, c in sorted(p.consents.items()):
            extra = (
                f" to {c.licensee}" + (f" until {c.until}" if c.until else "")
                if c.status == "licensed"
                else ""
            )
            lines.append(("", f"  consent {use}: {c.status}{extra}"))
    for a in audit or []:
        lines.append(("dim", f"  {a['at']} {a['actor']} {a['action']} {json.dumps(a['details'])}"))
    if not people:
        lines.append(("", "no people enrolled"))
    render_lines(lines, None)
