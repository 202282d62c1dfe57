"""Read a project's Dockerfile with a real parser (dockerfile-parse) and rewrite what this engine
builds differently from Astro's: base images (to the local image of their Runtime version),
Astronomer's `PYENV` build extension (to plain instructions), its `# syntax=` line.

Handled: `ARG` defaults in `FROM` (`FROM …:${RUNTIME_VERSION}`), line continuations,
`--platform=` (kept when it is the engine's platform, else refused with a message), multi-stage
builds (`FROM … AS builder`, `FROM builder`, `COPY --from=builder`), `COPY --from=<image>`.
"""
from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass, field

from django.conf import settings
from dockerfile_parse import DockerfileParser

from portal.errors import Invalid

from .resolve import Resolution, resolve

ARG_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")
SYNTAX = re.compile(r"#\s*syntax\s*=", re.IGNORECASE)
PYTHON_HERE = "3.11"  # the Python of the local runtime images (Debian bookworm)


@dataclass
class Rewritten:
    text: str
    resolutions: list[Resolution] = field(default_factory=list)  # every FROM / COPY --from image, in order
    notes: list[str] = field(default_factory=list)  # what was rewritten, for the deploy log
    warnings: list[str] = field(default_factory=list)
    last_from: Resolution | None = None  # the base of the last stage (what the deployment runs)


def _substitute(text: str, args: dict[str, str]) -> str:
    return ARG_REF.sub(lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text)


def _split_flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    flags, rest = {}, []
    for word in words:
        if word.startswith("--") and not rest:
            key, _, value = word[2:].partition("=")
            flags[key] = value
        else:
            rest.append(word)
    return flags, rest


def _check_platform(platform: str) -> None:
    if platform and "$" not in platform and platform not in settings.AIRDOCK_BUILD_PLATFORMS:
        raise Invalid(
            f"The Dockerfile asks for --platform={platform}; this engine builds "
            f"{', '.join(settings.AIRDOCK_BUILD_PLATFORMS)} only. Remove the flag or use one of those."
        )


def _pyenv(value: str, where: int) -> tuple[list[str], str]:
    """`PYENV <python> <name> [<requirements>]` as plain instructions, and a warning if any."""
    words = shlex.split(value)
    if len(words) not in (2, 3) or not re.fullmatch(r"[A-Za-z0-9_]+", words[1]):
        raise Invalid(f"Dockerfile line {where}: PYENV takes <python version> <name> [<requirements file>], got {value!r}.")
    python, name = words[0], words[1]
    venv = f"/home/astro/.venv/{name}"
    lines = [
        "USER root",
        f"RUN mkdir -p {venv} && chown astro:0 {venv}",
    ]
    install = f"uv venv --quiet --allow-existing --python /usr/bin/python3 {venv}"
    if len(words) == 3:
        lines.append(f"COPY --chown=astro:0 {words[2]} {venv}/requirements.txt")
        install += f" && uv pip install --python {venv}/bin/python -r {venv}/requirements.txt"
    lines += ["USER astro", f"RUN {install}", f"ENV ASTRO_PYENV_{name}={venv}/bin/python"]
    warning = ""
    if python not in (PYTHON_HERE, "3"):
        warning = f"PYENV {name} asks for Python {python}; this engine has Python {PYTHON_HERE}, which the virtualenv uses."
    return lines, warning


def dockerfile_rewrite(text: str) -> Rewritten:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))
    lines = text.splitlines()
    out: list[str] = []
    done = Rewritten(text="")
    args: dict[str, str] = {}
    stages: set[str] = set()
    seen_from = False
    position = 0
    for item in parser.structure:
        start, end = item["startline"], item["endline"]
        out.extend(lines[position:start])
        position = end + 1
        original = lines[start:end + 1]
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT" and start == 0 and SYNTAX.match(original[0].strip()):
            done.notes.append(f"Left out {original[0].strip()!r}: its instructions are rewritten here.")
            continue
        if instruction == "ARG" and not seen_from:
            for word in shlex.split(value):
                key, _, default = word.partition("=")
                args[key] = default
        elif instruction == "FROM":
            seen_from = True
            flags, rest = _split_flags(shlex.split(_substitute(value, args)))
            _check_platform(flags.get("platform", ""))
            image = rest[0] if rest else ""
            alias = rest[2] if len(rest) >= 3 and rest[1].lower() == "as" else ""
            if image and image not in stages:
                resolution = resolve(image)
                done.resolutions.append(resolution)
                done.last_from = resolution
                image = resolution.image
            else:
                done.last_from = None
            if alias:
                stages.add(alias)
            flag_text = "".join(f"--{k}={v} " if v else f"--{k} " for k, v in flags.items())
            out.append(f"FROM {flag_text}{image}{f' AS {alias}' if alias else ''}")
            continue
        elif instruction in ("COPY", "ADD"):
            flags, rest = _split_flags(shlex.split(value, posix=False))
            source = flags.get("from", "")
            if source and source not in stages and not source.isdigit():
                resolution = resolve(_substitute(source, args))
                done.resolutions.append(resolution)
                flags["from"] = resolution.image
                flag_text = "".join(f"--{k}={v} " if v else f"--{k} " for k, v in flags.items())
                out.append(f"{instruction} {flag_text}{' '.join(rest)}")
                continue
        elif instruction == "PYENV":
            expanded, warning = _pyenv(value, start + 1)
            done.notes.append(f"PYENV {value} → {len(expanded)} plain instructions (virtualenv made with uv)")
            if warning:
                done.warnings.append(warning)
            out.extend(expanded)
            continue
        out.extend(original)
    out.extend(lines[position:])
    done.text = "\n".join(out) + "\n"
    return done
