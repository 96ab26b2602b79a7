"""Stage 6, lint: cfn-lint over the written templates, through its Python API.

cfn-lint is imported only here and only when linting runs: its import alone takes
over a second, which `validate` and `compile --no-lint` should not pay.

A finding is reported in spec terms when the compile can say which spec key produced
the template entry it is about (see `spec_map`): `infra.yaml:31:18: compute.instance_type:
error E3628: ... (templates_out/regions/us-east-1.json:2302)`, on one line, with long
enumerations of allowed values cut to the closest few.

A template that linted clean is remembered by the hash of its bytes, the regions, the
cfn-lint version and our rule configuration, so an unchanged template is not linted
again. Templates that do need linting are spread over the machine's cores.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import functools
import hashlib
import json
import math
import os
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from compiler.caches import cache_root, is_empty_entry
from compiler.lint_relations import COMPARED_WITH_EARLIER

if TYPE_CHECKING:
    from compiler.lint_processes import LintProcess
    from compiler.lint_view import Renumbered
    from compiler.spec_map import SpecLocation

# cfn-lint's configuration file: none. Without one named, cfn-lint reads `.cfnlintrc` from
# the home and the current directory, whose `ignore_checks` or `append_rules` would
# change the findings where the compile runs (and the lint cache, which knows nothing
# of them, would keep a verdict made under them). An empty file: no settings at all.
NO_CONFIG_FILE = os.devnull

# Rules we switch off, each with the reason. Empty: every template lints clean with
# cfn-lint's defaults, and a new finding should fail the build rather than hide here.
IGNORED_RULES: dict[str, str] = {}


@dataclass(frozen=True)
class LintFinding:
    template: str
    line: int
    column: int
    rule: str
    level: str  # error | warning | informational
    message: str
    path: tuple[str | int, ...] = ()  # in the template: ("Resources", "Vpc", "Properties", ...)
    spec: SpecLocation | None = None  # the spec key behind it, once known (`in_spec_terms`)
    # The region a finding of the StackSet template was made for; None when it holds in
    # every region (or the template serves one region).
    region: str | None = None

    def __str__(self) -> str:
        problem = f"{self.level} {self.rule}: {self.message}"
        where = f"{self.template}:{self.line}" + (f", {self.region}" if self.region else "")
        if self.spec is not None:
            return f"{self.spec}: {problem} ({where})"
        if self.region:
            return f"{self.template}:{self.line}:{self.column}: {problem} ({self.region})"
        return f"{self.template}:{self.line}:{self.column}: {problem}"


# An enumeration longer than this is cut: cfn-lint lists every instance type AWS has.
MAX_LISTED = 5
MAX_MESSAGE = 300
_NOT_ONE_OF = re.compile(r"^(?P<value>'[^']*'|-?\d+(?:\.\d+)?) is not one of (?P<rest>\[.*)$")


def _literal_list(text: str) -> tuple[list, str] | None:
    """The Python list literal `text` starts with, and what follows it; None if none."""
    depth = 0
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[index - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                try:
                    value = ast.literal_eval(text[: index + 1])
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    return None
                return (value, text[index + 1 :]) if isinstance(value, list) else None
    return None


def _shown(values: list) -> str:
    return ", ".join(repr(v) for v in values)


def compact_message(message: str) -> str:
    """One line, enumerations cut to the closest few allowed values (or the first few),
    at most `MAX_MESSAGE` characters."""
    text = " ".join(message.split())
    match = _NOT_ONE_OF.match(text)
    parsed = _literal_list(match["rest"]) if match else None
    # Each value once: a lint view's copies are named as their originals (`_findings`),
    # and a run holds the copies of some regions only, so repeats would count (and cut)
    # differently from one run to the other.
    allowed = list(dict.fromkeys(parsed[0])) if parsed else []
    if match and parsed and len(allowed) > MAX_LISTED:
        after = parsed[1]
        value = ast.literal_eval(match["value"])
        closest = difflib.get_close_matches(str(value), [str(v) for v in allowed], n=3, cutoff=0.6)
        if closest:
            listed = f"the allowed values (closest: {_shown(closest)})"
        else:
            listed = (
                f"the {len(allowed)} allowed values (first: {_shown(allowed[:MAX_LISTED])}, ...)"
            )
        text = f"{match['value']} is not one of {listed}{after}"
    elif match and parsed and len(allowed) < len(parsed[0]):
        text = f"{match['value']} is not one of {allowed!r}{parsed[1]}"
    else:
        text = re.sub(r"\[[^\[\]]{200,}\]", lambda m: _cut_list(m.group(0)), text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _cut_list(text: str) -> str:
    parsed = _literal_list(text)
    if not parsed or len(parsed[0]) <= MAX_LISTED:
        return text
    values = parsed[0]
    return f"[{_shown(values[:MAX_LISTED])}, ... {len(values) - MAX_LISTED} more]"


# cfn-lint's regional rules end their message so: "'hpc7g.4xlarge' is not one of [...] in 'us-west-2'".
_IN_REGION = re.compile(r" in '(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)'$")
# Changes when what is linted for a template changes (the StackSet lint view) or how (no
# `.cfnlintrc` read since 4; copies without their lookup-free Tags and statements since
# 5, and with every statement of a document limited as a whole since 6): the lint cache
# must not vouch for a template checked the old way.
LINT_SCHEME = "stackset-view-6"


def lint_template(
    path: Path,
    regions: list[str],
    *,
    share: int | None = None,
    copies_in: Sequence[str] | None = None,
) -> list[LintFinding]:
    """cfn-lint's findings for the template at `path` in `regions`; the StackSet template
    (the one with a region mapping) is linted as its `lint_view`, so that every region's
    mapped values are checked, each in its region. `share`: this run is one of a job's
    two shared runs (`_shared_resources`), which validate each resource's own
    configuration once between them. `copies_in`: the regions whose lint view copies
    this run holds (a shared run of a StackSet template holds half), all by default."""
    from cfnlint.config import ConfigMixIn, ManualArgs
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    from compiler import cfn_lint_shortcuts
    from compiler.naming import REGION_MAP

    text = original_text = path.read_text(encoding="utf-8")
    copies: dict[str, tuple[str, tuple[str, ...]]] = {}
    renumbered: Renumbered = {}
    in_both_runs: frozenset[str] | None = None  # None: the same template in both
    if f'"{REGION_MAP}"' in text:
        from compiler.json_text import to_json_bytes
        from compiler.lint_view import held_in_both, lint_view

        stackset = json.loads(text)  # not changed by lint_view: both views read it
        view = lint_view(stackset, regions, copies_in)
        copies, renumbered = view.copies, view.renumbered
        if copies:
            text = to_json_bytes(view.template).decode("utf-8")
        if share is not None and copies_in is not None:
            others = [region for region in regions if region not in copies_in]
            in_both_runs = held_in_both(stackset, view, others)
    config = ManualArgs(
        regions=regions, ignore_checks=sorted(IGNORED_RULES), config_file=NO_CONFIG_FILE
    )
    template, matches = decode_str(text)
    if template is not None and not matches:  # what `cfnlint.api.lint` does, rules loaded once
        rules = cfn_lint_rules()
        with _shared_resources(rules, str(path), share, in_both_runs), cfn_lint_shortcuts.applied():
            matches = list(run_template_by_data(template, ConfigMixIn(**config), rules))
    return _merged(
        finding
        for match in matches
        if not _copy_of_itself(match, copies)
        for finding in _findings(path, match, copies, regions, original_text, renumbered)
    )


@functools.cache
def cfn_lint_rules():
    """cfn-lint's rules (all its defaults), loaded once per process and used for every
    template it lints, as cfn-lint's own command line does for many files: loading them
    runs every rule module and reads their data files (about 60 MiB; a third of a second
    on a quiet machine), which `cfnlint.api.lint` pays again for each template (its
    `rules` argument takes only the legacy `RulesCollection`, and with anything else
    loads them anew). Loaded before the lint workers fork, so that they share them."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=["us-east-1"], config_file=NO_CONFIG_FILE)).rules


def _merged(findings: Iterable[LintFinding]) -> list[LintFinding]:
    """`findings` once each (a StackSet template is linted for each region; one mistake,
    compacted, reads the same), without a mapped value's finding on the original resource
    when a region's copy has it too: a value wrong in every region is also reported on
    the original, without a region, and the per-region findings say it better. In the
    template's order: the shared runs of a job (`_shared_resources`) find them in an
    order that depends on which run validated what first."""
    unique = list(dict.fromkeys(findings))
    per_region = {(f.rule, f.path) for f in unique if f.region and f.path[:1] == ("Resources",)}
    kept = [f for f in unique if f.region or (f.rule, f.path) not in per_region]
    return sorted(kept, key=_finding_order)


def _finding_order(finding: LintFinding) -> tuple:
    return (
        finding.template,
        finding.line,
        finding.column,
        finding.rule,
        finding.region or "",
        tuple(map(str, finding.path)),
        finding.message,
    )


# cfn-lint's rules that validate one resource, or a part of one, at a time: its type in
# the regions (E3006), its update and deletion policies (W3011, I3011, E3016), its
# metadata (E3028) and its properties (E3002, whose schema validation calls the
# type-specific rules, E3062 and the IAM policy rules among them): most of a lint's time.
# Each is given one resource's entry, with the whole template to resolve references
# against, and keeps nothing from one resource to the next.
PER_RESOURCE_KEYWORD = "Resources/"
# Slots of the table in which a job's shared runs claim resources; two names that fall
# into one slot are validated by the same run, which is still once each.
CLAIM_SLOTS = 1 << 14
_claims = None  # the table, made by `run_jobs` before the lint processes fork


@contextlib.contextmanager
def _shared_resources(
    rules, template: str, share: int | None, in_both_runs: frozenset[str] | None = None
):
    """With `share` (0 or 1), cfn-lint's per-resource rules validate only the resources
    this run claims first in the table the job's two runs share (`_claim`): each run
    lints the whole template (every rule that relates resources, references, conditions
    and outputs sees all of it, in both), and each resource's own validation runs in
    exactly one of them, whichever reaches it first, so their findings together are one
    run's. Claiming as they go keeps both cores busy to the end, whatever each resource
    costs, and without guessing those costs. Relies on cfn-lint's `Rules` (a mapping of
    rule IDs to rule objects), each rule's `keywords`, and the `validate(validator,
    keywords, instance, schema)` method through which cfn-lint's E1101 calls them, with
    the resource's path (`validator.context.path.path`, `("Resources", name)`). Resources
    of the types a rule compares with the others of their type as it validates them
    (subnets' CIDRs: `lint_relations.COMPARED_WITH_EARLIER`) are validated in both runs,
    so that each run compares all of them. Only resources both runs hold are claimed
    (`in_both_runs`; None: all): a copy the other run does not hold is this run's to
    validate, and claiming it could lose it (two names can share a slot of the table,
    and the other run, having claimed the slot for a name of its own, would skip it
    without holding it). The rules are changed only in this process and only for
    this run."""
    if share is None or _claims is None:
        yield
        return
    wrapped = {
        rule_id: rule
        for rule_id, rule in rules.items()
        if any(
            str(keyword).startswith(PER_RESOURCE_KEYWORD)
            for keyword in getattr(rule, "keywords", None) or ()
        )
    }
    own = {rule_id: rule.__dict__.get("validate") for rule_id, rule in wrapped.items()}
    for rule in wrapped.values():
        rule.validate = _claiming(rule.validate, template, share, in_both_runs)
    try:
        yield
    finally:
        for rule_id, rule in wrapped.items():
            if own[rule_id] is None:
                del rule.validate  # the class's method again
            else:
                rule.validate = own[rule_id]


# Resources that both shared runs validate: rules that compare each resource of these
# types with the ones validated before (subnets' CIDRs) must see them all in one run.
_VALIDATED_IN_BOTH = frozenset(COMPARED_WITH_EARLIER.values())


def _claiming(validate, template: str, share: int, in_both_runs: frozenset[str] | None):
    def validate_if_mine(validator, keywords, instance, schema):
        path = validator.context.path.path
        if len(path) >= 2 and path[0] == "Resources":
            name = path[1]
            resource = validator.context.resources.get(name)
            compared = resource is not None and resource.type in _VALIDATED_IN_BOTH
            claimable = in_both_runs is None or name in in_both_runs
            if claimable and not compared and not _claim(template, name, share):
                return  # the other run validates this resource
        yield from validate(validator, keywords, instance, schema)

    return validate_if_mine


def _claim(template: str, name: str, share: int) -> bool:
    """Whether run `share` validates resource `name` of `template`: the first run to ask
    for it takes it, and the answer is the same every time either asks again."""
    assert _claims is not None
    slot = zlib.crc32(f"{template}\0{name}".encode()) % len(_claims)
    with _claims.get_lock():
        owner = _claims[slot]
        if owner == 0:
            _claims[slot] = owner = share + 1
    return owner == share + 1


# E3019 "Primary identifiers ... should have unique values across the resources {'A', 'B'}".
_SAME_IDENTIFIERS = re.compile(r"across the resources \{(?P<names>'[^{}]*')\}$")


def _copy_of_itself(match, copies: dict[str, tuple[str, tuple[str, ...]]]) -> bool:
    """A region's copy in the lint view has its original's primary identifier (a bucket or
    database name) by construction; cfn-lint's E3019 reports that, which no deployed
    template holds. Dropped only when every resource it names is one original or its
    copies: two different resources sharing an identifier are still reported."""
    if match.rule.id != "E3019" or not copies:
        return False
    found = _SAME_IDENTIFIERS.search(match.message)
    if not found:
        return False
    names = re.findall(r"'([^']*)'", found["names"])
    originals = {copies[name][0] if name in copies else name for name in names}
    return len(originals) == 1 and any(name in copies for name in names)


def _resource_line(text: str, logical_id: str) -> int:
    """The line of a resource's entry in an indented template (its `"Id": {` line)."""
    index = text.find(f'\n    "{logical_id}": {{')
    return text.count("\n", 0, index) + 2 if index >= 0 else 1


def _findings(
    path: Path,
    match,
    copies: dict[str, tuple[str, tuple[str, ...]]],
    regions: list[str],
    original_text: str,
    renumbered: Renumbered,
) -> list[LintFinding]:
    """A cfn-lint match as findings: one, or for a lint view copy one per region it holds
    the values of (none when a regional rule checked them in another region), at the
    original's place (`renumbered`: where the items of a copy's shortened lists were)."""
    where = _plain_path(getattr(match, "path", None) or ())
    line, column, in_regions = match.linenumber, match.columnnumber, [None]
    message = match.message
    found = _IN_REGION.search(message)
    named = found["region"] if found and found["region"] in regions else None
    if named and len(regions) > 1:  # a template of many regions
        in_regions = [named]
    if where[:1] == ("Resources",) and len(where) > 1 and where[1] in copies:
        original, covered = copies[str(where[1])]
        in_regions = [named] if named in covered else [] if named else list(covered)
        for items, indexes in renumbered.get(str(where[1]), {}).items():
            where = _renumbered(where, items, indexes)
        where = ("Resources", original, *where[2:])
        line, column = _resource_line(original_text, original), 5  # the copy is in no file
    if copies:
        message = _originals_named(message, copies, renumbered)
    # cfn-lint prints E3019's resources as a Python set, in an order that changes from
    # one process to the next (string hashing): sorted, the same finding reads the same.
    message = _SAME_IDENTIFIERS.sub(
        lambda found: (
            "across the resources {"
            + ", ".join(sorted(dict.fromkeys(re.findall(r"'[^']*'", found["names"]))))
            + "}"
        ),
        message,
    )
    return [
        LintFinding(
            template=str(path),
            line=line,
            column=column,
            rule=match.rule.id,
            level=match.rule.severity,
            message=compact_message(message),
            path=where,
            region=region,
        )
        for region in in_regions
    ]


def _originals_named(
    message: str,
    copies: Mapping[str, tuple[str, tuple[str, ...]]],
    renumbered: Renumbered,
) -> str:
    """`message` naming originals where it names lint view copies: first the indexes of
    shortened lists in paths into a copy (`_renumbered_in_text`), then each copy's ID, as
    a whole name (a copy's ID can be the tail of another's, or the head of another
    resource's: `BucketPolicyLintUsWest2` in `LogsBucketPolicyLintUsWest2`)."""
    for copy, lists in renumbered.items():
        if copy in message:
            for items, indexes in lists.items():
                message = _renumbered_in_text(message, copy, items, indexes)
    named = [copy for copy in copies if copy in message]
    if not named:
        return message
    names = "|".join(re.escape(copy) for copy in sorted(named, key=len, reverse=True))
    return re.sub(
        rf"(?<![A-Za-z0-9])({names})(?![A-Za-z0-9])", lambda found: copies[found[1]][0], message
    )


def _renumbered(
    where: tuple[str | int, ...], items: tuple[str | int, ...], indexes: tuple[int, ...]
) -> tuple[str | int, ...]:
    """A copy's finding's path inside list `items` (a path in the resource) at the index
    the item has in the original's list (`indexes`, by the copy's index)."""
    at = 2 + len(items)
    if where[2:at] != items or len(where) <= at or not isinstance(where[at], int):
        return where
    if not 0 <= where[at] < len(indexes):
        return where
    return (*where[:at], indexes[where[at]], *where[at + 1 :])


def _renumbered_in_text(
    message: str, copy: str, items: tuple[str | int, ...], indexes: tuple[int, ...]
) -> str:
    """`message` with each path into the copy's list `items` ("Resources/<copy>/.../3")
    naming the original's index instead: cfn-lint names where a resolved value is used
    ("... when 'Ref' is resolved at 'Resources/...'"), on findings whose own path may be
    elsewhere (the parameter's default)."""
    named = "/".join(map(str, ("Resources", copy, *items)))

    def original_index(found: re.Match) -> str:
        index = int(found[1])
        return f"{named}/{indexes[index]}" if index < len(indexes) else found[0]

    return re.sub(re.escape(named) + r"/(\d+)(?=[/'\"]|$)", original_index, message)


def _plain_path(path: Sequence) -> tuple[str | int, ...]:
    """cfn-lint's path keys are its own `str` subclasses, which cannot cross to the
    parent process (pickle); plain `str` and `int` can."""
    return tuple(int(p) if isinstance(p, int) else str(p) for p in path)


def in_spec_terms(
    findings: Sequence[LintFinding],
    locate: Callable[[LintFinding], SpecLocation | None],
) -> list[LintFinding]:
    """`findings` with the spec location `locate` finds for each (see `spec_map.SpecIndex`);
    a finding it cannot place keeps its template location alone."""
    return [dataclasses.replace(finding, spec=locate(finding)) for finding in findings]


@dataclass(frozen=True)
class LintJob:
    path: Path
    regions: tuple[str, ...]


def default_cache_dir() -> Path:
    return cache_root() / "lint"


@functools.cache
def cfn_lint_version() -> str:
    return version("cfn-lint")  # reads installed packages' metadata: once per process


def clean_marker(job: LintJob, cache_dir: Path) -> Path:
    """Where the fact "these exact bytes lint clean under this configuration" is kept."""
    digest = hashlib.sha256()
    digest.update(job.path.read_bytes())
    configuration = [job.regions, cfn_lint_version(), sorted(IGNORED_RULES), LINT_SCHEME]
    digest.update(json.dumps(configuration).encode())
    return cache_dir / f"{digest.hexdigest()}.clean"


def known_clean(jobs: list[LintJob], cache_dir: Path) -> set[Path]:
    """Paths of the jobs the cache already knows to be clean (asked before linting)."""
    return {job.path for job in jobs if is_empty_entry(clean_marker(job, cache_dir))}


class _Part(NamedTuple):
    """One cfn-lint run: a whole job, or one of its two shared runs."""

    path: Path
    regions: tuple[str, ...]
    share: int | None = None  # 0 or 1: which shared run (`_shared_resources`)
    copies_in: tuple[str, ...] | None = None  # the regions whose view copies it holds

    def __str__(self) -> str:  # in the error when its run fails (`run_forked`)
        return f"{self.path} in {', '.join(self.regions)}"


def _lint_part(part: _Part) -> list[LintFinding]:
    if part.share is None:
        return lint_template(part.path, list(part.regions))
    return lint_template(part.path, list(part.regions), share=part.share, copies_in=part.copies_in)


def lint_templates(
    jobs: list[LintJob],
    *,
    cache_dir: Path | None = None,
    process: LintProcess | None = None,
) -> list[LintFinding]:
    """Lint every job, skipping those the cache knows to be clean; `cache_dir=None` lints
    all. In `process` (`start_lint_process`) if given, else in processes forked here."""
    markers = {job: clean_marker(job, cache_dir) for job in jobs} if cache_dir else {}
    pending = [job for job in jobs if not (cache_dir and is_empty_entry(markers[job]))]
    if not pending:
        results = []
    elif process is not None:
        results = process.run(pending)
    else:
        results = run_jobs(pending)
    findings: list[LintFinding] = []
    for job, job_findings in zip(pending, results, strict=True):
        findings += job_findings
        if cache_dir and not job_findings:
            try:
                markers[job].parent.mkdir(parents=True, exist_ok=True)
                markers[job].touch()
            except OSError:
                pass  # an unwritable cache only means linting this template again next time
    return findings


def start_lint_process() -> LintProcess | None:
    """A process that gets cfn-lint ready while the caller builds the templates, and then
    lints them (`lint_processes.LintProcess`); None on a machine of one core, where it
    would only take that core from the compile, or where it cannot be forked."""
    if parallel_workers(2) < 2:
        return None
    from compiler.lint_processes import LintProcess

    return LintProcess.start(prepare_to_lint, run_jobs)


def prepare_to_lint() -> None:
    """Import what a cfn-lint run needs and load cfn-lint's rules, once, in the process
    the runs are forked from, so that they share it all."""
    import cfnlint.api  # noqa: F401
    import cfnlint.config  # noqa: F401
    import cfnlint.decode.decode  # noqa: F401
    import cfnlint.runner  # noqa: F401

    import compiler.cfn_lint_shortcuts  # noqa: F401
    import compiler.json_text  # noqa: F401
    import compiler.lint_view  # noqa: F401

    cfn_lint_rules()


def parallel_workers(job_count: int) -> int:
    """One process per core, at most one per template; 1 where fork is unavailable, or
    unsafe: in a caller with other threads (a library's), a forked process holds only the
    forking thread, and any lock another thread held at that moment stays held in it."""
    import multiprocessing  # here, not at the top: a fully cached compile never lints
    import threading

    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    # The cores this process may run on (`taskset`, a container's cpuset), not the machine's.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(job_count, cores or 1))


# A template smaller than this is linted in one run: two would each pay cfn-lint's set-up
# of the whole template (and a process) for a few resources each.
SHARE_MIN_BYTES = 50_000


# What each of a job's two shared runs spends setting up the whole template (reading it,
# cfn-lint's model of it, the rules that are not per resource), as a share of one whole
# run of it: about a quarter for the example's StackSet template (0.35 s of 1.35 s at 2
# regions, 0.62 of 2.94 at 16; docs/speed.md, "The sixth pass"). Two shared runs end at
# about (job + set-up + the rest) / 2, one whole run at the job's own time: the pair
# pays only when the job, less that set-up, still outweighs all the other runs.
SHARED_SETUP_SHARE = 0.25


def _runs(jobs: list[LintJob], workers: int) -> list[tuple[int, _Part]]:
    """The cfn-lint runs for `jobs` (with the job each is part of), in the order they
    start. With two cores, the largest job, when it outweighs all the others together by
    more than the set-up a second run of it costs (`SHARED_SETUP_SHARE`), is two shared
    runs (`_shared_resources`): alone, it would keep one core busy while the other
    finishes the rest and idles (the StackSet template, whose lint view adds each
    region's copies, against the global, bootstrap and health-alarms templates). One
    job at most: a job's shared runs end together whatever ran before them (each
    validates what the other has not reached), so one such pair, started last, takes up
    the slack of all the runs before it, and a second pair would only pay a second
    set-up of its template (as would two templates of about the same size, which run
    whole side by side). The whole jobs' runs first, largest first, then the pair."""
    sizes = [job.path.stat().st_size for job in jobs]
    order = sorted(range(len(jobs)), key=lambda at: sizes[at], reverse=True)
    largest = order[0]
    others = sum(sizes) - sizes[largest]
    shared = (
        workers >= 2
        and sizes[largest] >= SHARE_MIN_BYTES
        and sizes[largest] * (1 - SHARED_SETUP_SHARE) > others
    )
    whole = order[1:] if shared else order
    runs = [(at, _Part(jobs[at].path, jobs[at].regions)) for at in whole]
    if shared:
        runs += [(largest, part) for part in _shared_parts(jobs[largest])]
    return runs


# The share of the regions whose lint view copies the first of a job's two shared runs
# holds. A copy made for one region alone is in one run only, and validated there
# whatever the claims; the first run starts earlier (the pair starts last, its first run
# as soon as the small templates' runs end, its second when the global template's does),
# so it takes more of them, and the two end together. Measured on whole 16-region
# compiles (interleaved, medians of 6): 8 of 16 regions in the first run 2.04 s, 9 2.01 s,
# 10 2.00 s, 11 2.03 s, 12 2.06 s; at 8 regions 4, 5 and 6 of 8 within the noise.
FIRST_RUN_REGIONS = 0.6


def _shared_parts(job: LintJob) -> list[_Part]:
    """A job's two shared runs. For a StackSet template of several regions each holds the
    lint view's copies of some of the regions (checked in every region, as in one run),
    the first run those of `FIRST_RUN_REGIONS` of them, the second the rest: a copy is
    what one region's own template holds, and copies refer only to copies of their own
    region or to the template's own resources, so a run sees each copy with everything
    it refers to; what one run lacks is the other's copies, which no region's template
    holds either. A copy shared by regions of both runs is in both under one ID, and is
    validated once, by claim, like the template itself, whose resources are in both.
    Holding some of the copies keeps a run's memory to about what one run of those
    regions needs (at 16 regions, when the runs held half each, 238 MiB against 263 with
    every copy in both runs; 159 MiB at most since the sixth and seventh passes)."""
    from compiler.naming import REGION_MAP

    regions = job.regions
    if len(regions) < 2 or f'"{REGION_MAP}"' not in job.path.read_text(encoding="utf-8"):
        return [_Part(job.path, regions, share) for share in (0, 1)]
    first = min(len(regions) - 1, math.ceil(len(regions) * FIRST_RUN_REGIONS))
    return [
        _Part(job.path, regions, 0, regions[:first]),
        _Part(job.path, regions, 1, regions[first:]),
    ]


@contextlib.contextmanager
def _lint_collector():
    """The collector's thresholds of a lint process (`LINT_GC_THRESHOLDS`) while cfn-lint
    runs in this one (one core, or a caller with threads), the caller's again after: the
    compile's own are higher, for a process that makes almost no garbage cycles, and
    cfn-lint's runs make them as they go (at 16 regions, 7 MiB more at the peak)."""
    import gc

    from compiler.lint_processes import LINT_GC_THRESHOLDS

    before = gc.get_threshold()
    gc.set_threshold(*LINT_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def run_jobs(jobs: list[LintJob], watch: int | None = None) -> list[list[LintFinding]]:
    """Each job's findings: its runs (`_runs`) forked from this process, one process each,
    on every core (`lint_processes.run_forked`, with `watch`); in this process on one."""
    global _claims
    if not jobs:
        return []
    runs = _runs(jobs, parallel_workers(len(jobs) + 1))  # + 1: a job may be two runs
    workers = parallel_workers(len(runs))
    if workers <= 1:
        with _lint_collector():
            return [_lint_part(_Part(job.path, job.regions)) for job in jobs]
    import multiprocessing

    from compiler.lint_processes import run_forked

    prepare_to_lint()  # here, once: every run forked below shares it
    # Shared with the lint processes forked below (`_shared_resources`); new for each lint.
    _claims = multiprocessing.get_context("fork").Array("b", CLAIM_SLOTS)
    try:
        found = run_forked(_lint_part, [part for _, part in runs], workers, watch=watch)
    finally:
        _claims = None
    by_job: list[list[LintFinding]] = [[] for _ in jobs]
    shared: set[int] = set()
    for (at, part), findings in zip(runs, found, strict=True):
        by_job[at] += findings
        if part.share is not None:
            shared.add(at)
    return [_merged(findings) if at in shared else findings for at, findings in enumerate(by_job)]
