"""`bench ab --with SPEC --with SPEC`: each side's environment made or reused (bench.run.envs),
held while the run uses it, what differs between them, and the cases both list; then `bench ab`
runs as with --python. `bench envs`: the cache of those environments (bench.run.env_cache)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.cli.options import parse_filename
from bench.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench.run import envs
    from bench.run.cases import Case, Profile
    from bench.run.envs import Env


def add_with_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("your versions (instead of --python)")
    group.add_argument("--with", dest="specs", action="append", default=[], metavar="SPEC",
                       help="side A's packages, then side B's: a pip requirement, several joined "
                            "by commas, or a project folder; each side gets a cached environment "
                            "with bench and SPEC installed. Example: bench ab --with cbor2==5.7.1 "
                            "--with cbor2==5.8.0 -k 'ser/cbor2/*' --profile quick")
    group.add_argument("--env-dir", type=parse_filename, metavar="DIR",
                       help="where the environments are cached (default: $XDG_CACHE_HOME/bench/"
                            "envs, else ~/.cache/bench/envs)")
    group.add_argument("--env-inherit", action="store_true",
                       help="the environments also see this interpreter's packages, after their "
                            "own: bench and its dependencies are not installed again, only "
                            "SPEC is (quicker; offline when SPEC needs no download)")


def prepare_sides(args: argparse.Namespace, holds: contextlib.ExitStack
                  ) -> tuple[dict[str, str], Profile, list[Case]]:
    """Both sides' interpreters, the profile and the cases both environments list; progress and
    what differs on stderr; both environments held in use until `holds` closes. InputError for
    bad specs, an install that fails, no common case."""
    from bench.run import env_cache, envs
    from bench.subjects import user_data

    if args.pythons:
        raise InputError("--with and --python: give one or the other")
    if len(args.specs) != 2:
        raise InputError(f"--with: give exactly two specs, A then B (got {len(args.specs)})")
    specs = [envs.parse_spec(text) for text in args.specs]
    settings = envs.EnvSettings(Path(args.env_dir) if args.env_dir else envs.default_env_dir(),
                                inherit=args.env_inherit)
    if not settings.inherit:  # a table's reader is not among what an environment installs
        readers = user_data.readers_needed(getattr(args, "data", []), getattr(args, "trust_pickle", False))
        specs = [envs.with_packages(spec, readers) for spec in specs]
    ready: dict[str, Env] = {}
    for side, spec in zip("AB", specs):
        ready[side] = envs.prepare_env(spec, settings, *notes_of(side, spec, settings.installer))
        if not ready[side].created:
            say(f"reusing the environment of {side} ({spec.text}): {ready[side].path}")
    holds.enter_context(env_cache.hold_envs(env.path for env in ready.values()))
    for side, env in ready.items():
        if not (env.path / envs.MARKER).is_file():
            raise InputError(f"--with: the environment of {side} was removed meanwhile ({env.path}); "
                             "run again")
    made = [env for env in ready.values() if env.created]
    if made:
        say(f"created {len(made)} environment(s) in {sum(env.seconds for env in made):.1f} s; "
            f"later calls reuse them")
    say(describe_differences(ready["A"], ready["B"]))
    profile, selected = select_common_cases(args, ready)
    return {side.lower(): env.python for side, env in ready.items()}, profile, selected


def notes_of(side: str, spec: envs.Spec, installer: str
             ) -> tuple[Callable[[Path], None], Callable[[Path], None]]:
    """What to say when side's environment is being made, and when another process makes it."""
    def creating(path: Path) -> None:
        say(f"creating the environment of {side} ({spec.text}) with {installer} in {path}")

    def waiting(path: Path) -> None:
        say(f"waiting for another bench making the environment of {side} ({path})")
    return creating, waiting


def say(line: str) -> None:
    print(f"bench ab: {line}", file=sys.stderr)


def describe_differences(a: Env, b: Env) -> str:
    """What differs between the two environments' `pip freeze`, one project a line."""
    from bench.run.envs import diff_freeze

    rows = diff_freeze(a.freeze, b.freeze)
    if not rows:
        return "the two environments' pip freeze are the same"
    width = max(len(name) for name, _, _ in rows)
    return "\n".join(["what differs (pip freeze):  A | B",
                      *(f"  {name.ljust(width)}  {left} | {right}" for name, left, right in rows)])


def list_options(args: argparse.Namespace, profile: str) -> list[str]:
    """The `bench list` options that select this A/B run's cases in an environment."""
    options = ["--profile", profile]
    for flag, values in (("-k", args.patterns), ("--suite", args.suite), ("--plugin", args.plugin),
                         ("--data", getattr(args, "data", []))):
        for value in values:
            options += [flag, value]
    if getattr(args, "data_size", None):
        options += ["--data-size", str(args.data_size)]
    if getattr(args, "trust_pickle", False):
        options.append("--trust-pickle")
    return options


def select_common_cases(args: argparse.Namespace, ready: dict[str, Env]) -> tuple[Profile, list[Case]]:
    """The profile and the cases that both environments list (each decides with its own
    libraries); a note for cases only one side has."""
    from bench.cli import options
    from bench.run import cases
    from bench.run.envs import list_cases_in
    from bench.run.plugins import load_plugins

    load_plugins(args.plugin)
    if getattr(args, "data", None):
        options.load_data_arguments(args)
    profile = cases.get_profile(args.profile or ("data" if getattr(args, "data", None) else "smoke"))
    listed = {side: list_cases_in(env, list_options(args, profile.name)) for side, env in ready.items()}
    names_b = set(listed["B"][0])
    common = [name for name in listed["A"][0] if name in names_b]
    for side, other in (("A", "B"), ("B", "A")):
        only = sorted(set(listed[side][0]) - set(listed[other][0]))
        if only:
            say(f"{len(only)} case(s) only side {side} has, not run: {', '.join(only[:3])}"
                + (" ..." if len(only) > 3 else ""))
    if not common:
        skipped = {f"{subject} ({reason})" for side in "AB" for subject, reason in listed[side][1].items()}
        raise InputError(f"profile {profile.name!r} with this selection has no case in both "
                         f"environments" + (f"; skipped there: {', '.join(sorted(skipped)[:4])}"
                                            if skipped else ""))
    return profile, [cases.parse_case(name) for name in common]


# ---------------------------------------------------------------- bench envs

def add_envs_arguments(parser: argparse.ArgumentParser) -> None:
    from bench.cli.options import add_format_argument, parse_number

    parser.add_argument("--env-dir", type=parse_filename, metavar="DIR",
                        help="the cache folder (default: as bench ab --with)")
    parser.add_argument("--remove", action="append", default=[], metavar="NAME",
                        help="remove the environment NAME (repeatable; see the list for names)")
    parser.add_argument("--prune", action="store_true",
                        help="remove every environment not in use (with --older-than: only those "
                             "unused for that long)")
    parser.add_argument("--older-than", type=parse_number, metavar="DAYS",
                        help="with --prune: only environments last used more than DAYS days ago")
    add_format_argument(parser, markdown=False)


def cmd_envs(args: argparse.Namespace) -> int:
    """List the cached environments of `bench ab --with`, or remove some."""
    from bench.cli.options import EXIT_OK
    from bench.run import env_cache, envs
    from bench.text import format_quantity, render_document, render_text_table

    if args.older_than is not None and not args.prune:
        raise InputError("--older-than needs --prune")
    root = Path(args.env_dir) if args.env_dir else envs.default_env_dir()
    found = env_cache.list_envs(root)
    by_name = {env.name: env for env in found}
    unknown = [name for name in args.remove if name not in by_name]
    if unknown:
        raise InputError(f"--remove {unknown[0]}: no such environment in {root}")
    chosen = [by_name[name] for name in dict.fromkeys(args.remove)]
    if args.prune:
        stale = found if args.older_than is None else env_cache.select_stale(found, args.older_than)
        chosen += [env for env in stale if env not in chosen]
    if chosen:
        removed = [env for env in chosen if env_cache.remove_env(root, env.name)]
        kept = [env.name for env in chosen if env not in removed]
        say_envs(f"removed {len(removed)} environment(s), "
                 f"{format_quantity(sum(env.size for env in removed), 'byte')}"
                 + (f"; kept {len(kept)} in use: {', '.join(kept)}" if kept else ""))
        found = [env for env in found if env not in removed]

    def text() -> str:
        if not found:
            return f"no environments in {root}\n"
        rows = [[env.name, env.spec, env.python,
                 time.strftime("%Y-%m-%d %H:%M", time.localtime(env.last_used)),
                 format_quantity(env.size, "byte"), "yes" if env.in_use else ""] for env in found]
        lines = render_text_table(["name", "spec", "python", "last used", "size", "in use"], rows)
        total = format_quantity(sum(env.size for env in found), "byte")
        return "\n".join([*lines, f"{len(found)} environment(s), {total} in {root}"]) + "\n"

    sys.stdout.write(render_document(args.format, text=text, data=lambda: {
        "env_dir": str(root), "environments": [env.as_dict() for env in found]}))
    return EXIT_OK


def say_envs(line: str) -> None:
    print(f"bench envs: {line}", file=sys.stderr)
