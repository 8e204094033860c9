"""Mutation testing with mutmut: ``make mutation [MODULES=…] [TESTS=…] [MUTATION_JOBS=…]``.

mutmut mutates a copy of labbook/ in mutants/ and, for every mutant, runs only the tests that
call the mutated function; it finds them once, in a first run of the whole test selection
(setup.cfg, ``[mutmut]``), and keeps them in mutants/mutmut-stats.json. The working tree is
never changed: the tests run from the copy in mutants/, on SQLite, with their temporary files
in mutants/tmp.

This script chooses what to mutate (targets.txt, or the modules named on the command line: a
module, or ``module.py:pattern,pattern`` for some of its functions), runs mutmut on it, then
prints every surviving mutant as a diff and a kill rate per module: killed of the mutants
that are not listed in equivalent.txt (mutants that cannot change behaviour, each with the
reason).
"""

from __future__ import annotations

import argparse
import builtins
import fcntl
import fnmatch
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WORK = ROOT / "mutants"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
CLASS_MARK = "ǁ"  # how mutmut spells Class.method in a mutant's name


@dataclass(frozen=True)
class Target:
    """A module to mutate, or only the functions of it that match ``patterns``."""

    path: str
    patterns: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def mutant_globs(self) -> list[str]:
        """fnmatch patterns for the names mutmut gives this target's mutants."""
        if not self.patterns:
            return [f"{self.module}.x*__mutmut_*"]
        globs = []
        for pattern in self.patterns:
            owner, _, function = pattern.rpartition(".")
            mangled = f"x{CLASS_MARK}{owner}{CLASS_MARK}{function}" if owner else f"x_{function}"
            globs.append(f"{self.module}.{mangled}__mutmut_*")
        return globs

    def label(self) -> str:
        return f"{self.path} ({', '.join(self.patterns)})" if self.patterns else self.path


def parse_target(text: str) -> Target:
    """``path``, ``path pattern …`` (targets.txt) or ``path:pattern,…`` (command line)."""
    path, _, rest = text.partition(":")
    words = path.split() + rest.replace(",", " ").split()
    if not words[0].endswith(".py") or not (ROOT / words[0]).is_file():
        raise SystemExit(f"no module {words[0]} (give a path such as labbook/core/time.py)")
    return Target(words[0], tuple(words[1:]))


def read_targets() -> list[Target]:
    lines = (HERE / "targets.txt").read_text(encoding="utf-8").splitlines()
    return [parse_target(line) for line in lines if line.strip() and not line.startswith("#")]


def read_equivalent() -> dict[str, str]:
    """Mutant name → why it cannot change behaviour."""
    entries = {}
    for line in (HERE / "equivalent.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.strip().partition(" ")
            entries[name] = reason.strip()
    return entries


def sync_data_files() -> None:
    """Copy labbook/'s non-Python files (catalogues, CSVs) that changed into mutants/.

    mutmut refreshes the Python files itself but copies the others only once.
    """
    for source in (ROOT / "labbook").rglob("*"):
        if source.is_dir() or source.suffix in {".py", ".pyc"}:
            continue
        copy = WORK / source.relative_to(ROOT)
        if not copy.exists() or copy.stat().st_mtime != source.stat().st_mtime:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


class FastestFirst(set[str]):
    """Test names that come out quickest first (mutmut hands a mutant's tests to pytest as
    ``list(tests)``)."""

    def __init__(self, tests: set[str], durations: dict[str, float]) -> None:
        super().__init__(tests)
        self.order = sorted(tests, key=lambda test: (durations.get(test, 0.0), test))

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)


def run_mutmut(targets: list[Target], everything: list[Target], *, jobs: int,
               tests: list[str] | None) -> None:
    # Each test process gets a SQLite file of its own; one PostgreSQL database could not be
    # shared by tests running side by side, nor rebuilt under someone else's tests.
    os.environ.pop("LABBOOK_TEST_DATABASE_URL", None)
    temporary = WORK / "tmp"
    temporary.mkdir(parents=True, exist_ok=True)
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(temporary)
    schema = temporary / "schema.sqlite"  # see plugin.py
    schema.unlink(missing_ok=True)
    os.environ["LABBOOK_MUTATION_SCHEMA"] = str(schema)
    sync_data_files()
    for target in everything:
        # A module copied before it became a target has no mutants, and mutmut would keep
        # that copy as long as it is newer than the source.
        if not (WORK / f"{target.path}.meta").exists():
            (WORK / target.path).unlink(missing_ok=True)

    import mutmut.__main__ as mutmut_cli
    from mutmut.configuration import config
    from mutmut.state import state

    settings = config()
    # Mutants are made for every target, so that one module's run keeps the others' results.
    settings.only_mutate = sorted({target.path for target in everything})
    if tests:
        settings.pytest_add_cli_args_test_selection = tests

    def tests_covering(globs: list[str]) -> set[str]:
        # mutmut matches patterns against function names here, which never end in __mutmut_N:
        # without this, a pattern for some functions of a module would select no tests, and
        # mutmut would run the whole selection as its clean run.
        return {test for function, covering in state().tests_by_mangled_function_name.items()
                if any(fnmatch.fnmatch(f"{function}__mutmut_1", glob) for glob in globs)
                for test in covering}

    listing = False

    def print_without_listing(*args: object, **kwargs: object) -> None:
        # After a run of named mutants mutmut lists every one of them; report() says more.
        nonlocal listing
        listing = listing or args == ("Mutant results",)
        if not listing:
            builtins.print(*args, **kwargs)

    collect_or_load_stats = mutmut_cli.collect_or_load_stats

    def with_fastest_tests_first(*args: object, **kwargs: object) -> None:
        # pytest runs the tests in the order given and stops at the first failure, so a mutant
        # that a quick test kills is done before the slow tests start.
        collect_or_load_stats(*args, **kwargs)
        durations = state().duration_by_test
        for function, covering in state().tests_by_mangled_function_name.items():
            state().tests_by_mangled_function_name[function] = FastestFirst(covering, durations)

    mutmut_cli.tests_for_mutant_names = tests_covering
    mutmut_cli.collect_or_load_stats = with_fastest_tests_first
    mutmut_cli.print = print_without_listing
    globs = [glob for target in targets for glob in target.mutant_globs()]
    mutmut_cli.cli.main(["run", "--max-children", str(jobs), *globs], standalone_mode=False)


@dataclass
class Tally:
    total: int = 0
    killed: int = 0
    equivalent: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    unchecked: int = 0

    @property
    def kill_rate(self) -> float:
        """Killed of the mutants that could be killed (equivalent ones cannot)."""
        killable = self.total - len(self.equivalent)
        return 100 * self.killed / killable if killable else 100.0


def tally(target: Target, equivalent: dict[str, str]) -> Tally:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    data = SourceFileMutationData(path=target.path)
    data.load()
    result = Tally()
    for name, exit_code in sorted(data.exit_code_by_key.items(), key=lambda item: _order(item[0])):
        if not any(fnmatch.fnmatch(name, glob) for glob in target.mutant_globs()):
            continue
        status = status_by_exit_code[exit_code]
        result.total += 1
        if status in KILLED:
            result.killed += 1
        elif status == "not checked":
            result.unchecked += 1
        elif name in equivalent:
            result.equivalent.append(name)
        elif status == "no tests":
            result.untested.append(name)
        else:
            result.survived.append(name)
    return result


def _order(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number)


def show(name: str, path: str) -> None:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    print(f"  {name}")
    for line in get_diff_for_mutant(name, path=path).splitlines()[2:]:
        if line.startswith(("-", "+")):
            print(f"      {line}")


def report(targets: list[Target]) -> None:
    equivalent = read_equivalent()
    tallies = {target: tally(target, equivalent) for target in targets}
    for target, counts in tallies.items():
        if counts.survived or counts.untested:
            print(f"\n{target.label()}: surviving mutants")
            for name in counts.survived:
                show(name, target.path)
            for name in counts.untested:
                print(f"  {name} (no test calls this function)")
    survivors = {name for counts in tallies.values()
                 for name in counts.survived + counts.untested + counts.equivalent}
    stale = sorted(name for name in equivalent
                   if name not in survivors and any(
                       fnmatch.fnmatch(name, glob) for target in targets
                       for glob in target.mutant_globs()))
    if stale:
        print("\nequivalent.txt names mutants that are killed or no longer exist:")
        for name in stale:
            print(f"  {name}")
    print(f"\n{'module':58} {'mutants':>7} {'equiv':>5} {'killed':>7} {'survive':>7} "
          f"{'rate':>6}")
    for target, counts in tallies.items():
        rate = f"{counts.kill_rate:5.1f}%" if counts.unchecked < counts.total else "     –"
        note = f"  ({counts.unchecked} not run)" if counts.unchecked else ""
        print(f"{target.label():58.58} {counts.total:7} {len(counts.equivalent):5} "
              f"{counts.killed:7} {len(counts.survived) + len(counts.untested):7} "
              f"{rate}{note}")
    print("rate: killed of the mutants that are not equivalent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: targets.txt)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--tests", default="",
                        help="pytest arguments selecting the tests (default: setup.cfg)")
    parser.add_argument("--report", action="store_true", help="only report the last run")
    arguments = parser.parse_args()

    os.chdir(ROOT)
    sys.path.remove(str(HERE))  # its modules are not meant to be imported by name
    everything = read_targets()
    chosen = [parse_target(text) for text in arguments.modules] or everything
    by_path = {target.path: target for target in everything}
    # A module named without patterns is taken as targets.txt has it.
    targets = [by_path.get(target.path, target) if not target.patterns else target
               for target in chosen]
    if not arguments.report:
        WORK.mkdir(exist_ok=True)
        with (WORK / "run.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SystemExit("make mutation is running already in this checkout") from None
            started = time.monotonic()
            run_mutmut(targets, everything + [t for t in targets if t not in everything],
                       jobs=arguments.jobs, tests=shlex.split(arguments.tests))
        print(f"\nmutation testing took {(time.monotonic() - started) / 60:.1f} min "
              f"with {arguments.jobs} worker(s)")
    report(targets)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
