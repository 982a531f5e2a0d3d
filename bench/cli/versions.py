"""`bench ab --with SPEC --with SPEC`: each side's environment made or reused (bench.run.envs),
what differs between them, and the cases both list; then `bench ab` runs as with --python."""

from __future__ import annotations

import argparse
import sys
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


def prepare_sides(args: argparse.Namespace) -> tuple[dict[str, str], Profile, list[Case]]:
    """Both sides' interpreters, the profile and the cases both environments list; progress and
    what differs on stderr. InputError for bad specs, an install that fails, no common case."""
    from bench.run import envs

    if args.pythons:
        raise InputError("--with and --python: give one or the other")
    if len(args.specs) != 2:
        raise InputError(f"--with: give exactly two specs, A then B (got {len(args.specs)})")
    specs = [envs.parse_spec(text) for text in args.specs]
    settings = envs.EnvSettings(Path(args.env_dir) if args.env_dir else envs.default_env_dir(),
                                inherit=args.env_inherit)
    ready: dict[str, Env] = {}
    for side, spec in zip("AB", specs):
        ready[side] = envs.prepare_env(spec, settings, *notes_of(side, spec, settings.installer))
        if not ready[side].created:
            say(f"reusing the environment of {side} ({spec.text}): {ready[side].path}")
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
