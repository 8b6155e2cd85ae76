"""The `lrdoctor` command: parses options, calls the library, renders, sets the exit status.

Commands import the library modules they use when they run: building the command (and
`lrdoctor --help`) loads neither pandas, scipy, matplotlib nor mlflow.
"""

from __future__ import annotations

import functools
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lrdoctor import __version__
from lrdoctor.engine import (
    Config,
    EngineError,
    fails,
    load_catalogue,
    load_config,
    with_command_line,
)
from lrdoctor.engine.vocabulary import SEVERITIES
from lrdoctor.reporters.escaping import printable
from lrdoctor.reporters.registry import CSV_PER_FINDING, REPORTERS

if TYPE_CHECKING:
    from lrdoctor.audit import AuditResult
    from lrdoctor.diagnosis import Doctor
    from lrdoctor.discovery import Discovery
    from lrdoctor.readers import ReadOptions

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT_ERROR = 2

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class InputError(click.ClickException):
    """Nothing usable could be read: exit status 2, message on stderr, no traceback."""

    exit_code = EXIT_INPUT_ERROR

    def __init__(self, message: str):
        super().__init__(printable(message))


def _report_problems(problems) -> None:
    for problem in problems:
        click.echo(f"lrdoctor: {printable(problem)}", err=True)


class _ReaderChoice(click.Choice):
    """The registered readers' names, looked up on first use: the registry imports every
    reader (and pandas), which the command's definition and `lrdoctor --help` need not."""

    def __init__(self):
        self.case_sensitive = True

    @functools.cached_property
    def choices(self) -> tuple[str, ...]:
        from lrdoctor.readers import registry

        return tuple(sorted(registry()))


def input_options(command):
    """Options every command that reads runs shares: paths, format, MLflow selection, tags."""
    options = [
        click.argument("paths", nargs=-1, required=True),
        click.option(
            "--format-in",
            type=_ReaderChoice(),
            help="Read every path with this reader instead of detecting the format.",
        ),
        click.option("--experiment", help="MLflow: only runs of this experiment (by name)."),
        click.option("--run-id", help="MLflow: only the run with this id."),
        click.option(
            "--filter", "filter_string", help="MLflow: a search filter, e.g. \"params.lr = '0.1'\"."
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=10.0,
            show_default=True,
            help="Seconds to wait for a tracking server before giving up.",
        ),
        click.option("--loss-tag", help="Tag to use as the training loss."),
        click.option("--val-loss-tag", help="Tag to use as the validation loss."),
        click.option("--grad-norm-tag", help="Tag to use as the gradient norm."),
        click.option("--lr-tag", help="Tag to use as the learning rate."),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


class _Progress:
    """A progress bar on stderr for audits of more than a few sources, on a terminal only."""

    MIN_SOURCES = 6

    def __init__(self):
        self.bar = None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < self.MIN_SOURCES or not sys.stderr.isatty():
                return
            self.bar = click.progressbar(length=total, label="auditing", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.bar is not None:
            self.bar.__exit__(*exc_info)


def _colour() -> bool | None:
    """None lets click colour on a terminal only; NO_COLOR (no-color.org) turns it off."""
    return False if os.environ.get("NO_COLOR") else None


def jobs_option(command):
    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        default=os.cpu_count() or 1,
        show_default="all cores",
        help="Diagnose runs in this many processes; results are identical to --jobs 1.",
    )(command)


scheduler_option = click.option(
    "--scheduler",
    envvar="LRDOCTOR_SCHEDULER",
    metavar="ADDRESS",
    help='Read and diagnose the runs on a Dask cluster (pip install "lrdoctor[dask]"): a '
    "scheduler address such as tcp://scheduler:8786, or 'local' for a cluster of --jobs worker "
    "processes on this machine. Workers must see the paths at the same place; the report is "
    "the one a local audit writes. With an address, --jobs is ignored: the cluster's workers "
    "set the parallelism.",
    show_envvar=True,
)


def text_or_json(help_text: str):
    """The --format option of commands that print either a text view or JSON."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help_text,
    )


def rule_options(command):
    """Options of commands that apply rules: selection, severity threshold, extra rules."""
    options = [
        click.option(
            "--select",
            multiple=True,
            help="Only these rules (code, prefix or name; repeat or separate with commas).",
        ),
        click.option(
            "--ignore",
            multiple=True,
            help="Skip these rules (code, prefix or name; repeat or separate with commas).",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(SEVERITIES),
            help="Exit with status 1 when a finding has this severity or a higher one.",
        ),
        click.option(
            "--rules-dir",
            multiple=True,
            type=click.Path(exists=True, file_okay=False),
            help="Also load rule files (*.toml) from this folder.",
        ),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def _comma_list(values: tuple[str, ...]) -> list[str] | None:
    """`--select A,B --select C` as [A, B, C], as ruff takes rule lists."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()] or None


output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file, creating its folder if missing.",
)
"""The report file of the commands that write one (audit, sweep)."""


def _config(select=(), ignore=(), fail_on=None, rules_dir=(), signals=None) -> Config:
    """Defaults < lrdoctor.toml / pyproject.toml [tool.lrdoctor] < command line."""
    try:
        return with_command_line(
            load_config(Path.cwd()),
            select=_comma_list(select),
            ignore=_comma_list(ignore),
            fail_on=fail_on,
            rules_dirs=[Path(d) for d in rules_dir] or None,
            signals=signals or None,
        )
    except EngineError as error:
        raise InputError(str(error)) from error


def _doctor(config: Config) -> Doctor:
    from lrdoctor.diagnosis import Doctor

    try:
        return Doctor(config)
    except EngineError as error:
        raise InputError(str(error)) from error


def _read_options(experiment, run_id, filter_string, timeout) -> ReadOptions:
    from lrdoctor.readers import ReadOptions

    return ReadOptions(
        experiment=experiment, run_id=run_id, filter_string=filter_string, timeout=timeout
    )


def _read(paths, format_in, experiment, run_id, filter_string, timeout) -> Discovery:
    from lrdoctor.discovery import read_runs

    options = _read_options(experiment, run_id, filter_string, timeout)
    with _remote_errors():
        discovery = read_runs(paths, options, format_in)
    _report_problems([p for p in discovery.problems if p not in discovery.unreadable])
    _nothing_read(paths, discovery.runs, discovery.unreadable)
    return discovery


@contextmanager
def _remote_errors() -> Iterator[None]:
    """A remote store that cannot be reached at all: exit status 2 with its message."""
    from lrdoctor.remote import RemoteError

    try:
        yield
    except RemoteError as error:
        raise InputError(str(error)) from error


def _nothing_read(paths, runs, unreadable) -> None:
    """Exit with status 2 when no run has a single data point; `runs` are runs or summaries
    (anything with `points`, a count per tag)."""
    if not any(sum(run.points.values()) for run in runs):
        found = f"{len(runs)} run(s) with no data points" if runs else "no runs"
        if unreadable:
            found = "; ".join(str(problem) for problem in unreadable[:3])
        raise InputError(f"nothing could be read from {', '.join(paths)}: {found}")


def _tag_overrides(loss_tag, val_loss_tag, grad_norm_tag, lr_tag) -> dict[str, str]:
    """The tags given on the command line, by role; `_config` checks them as `[signals]`."""
    given = {
        "train_loss": loss_tag,
        "val_loss": val_loss_tag,
        "grad_norm": grad_norm_tag,
        "lr": lr_tag,
    }
    return {role: tag for role, tag in given.items() if tag is not None}


_TAG_OPTIONS = ("loss_tag", "val_loss_tag", "grad_norm_tag", "lr_tag")


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="lrdoctor")
def main() -> None:
    """Diagnose training runs from their logged curves before touching the learning rate.

    \b
    Examples:
      lrdoctor audit runs/                 diagnose every run found under runs/
      lrdoctor diagnose runs/exp-3         one run in full: evidence and remedies
      lrdoctor runs mlruns --experiment baseline
      lrdoctor explain LRD101              what a rule detects and how to fix it
    """


@main.command(context_settings=CONTEXT_SETTINGS)
@input_options
@text_or_json("Output as a table for people or JSON for programs.")
def runs(output_format, **inputs) -> None:
    """List every run found in PATHS (files, folders, MLflow tracking URIs).

    Shows each run's format, the tag chosen for each signal (train loss, val loss, grad
    norm, lr) with its number of points, and any warnings from reading it.

    \b
    Examples:
      lrdoctor runs logs/
      lrdoctor runs mlruns sqlite:///mlflow.db http://127.0.0.1:5000 --experiment sweep
      lrdoctor runs logs/ --format json --loss-tag train/nll_loss
    """
    from lrdoctor.discovery import iter_read, sort_read
    from lrdoctor.inventory import summarise, unreadable_summary
    from lrdoctor.reporters import runs as runs_report

    config = _config(signals=_tag_overrides(**{name: inputs.pop(name) for name in _TAG_OPTIONS}))
    paths, format_in = inputs.pop("paths"), inputs.pop("format_in")
    with _remote_errors():  # each run summarised as it is read and let go: memory holds one source
        items = iter_read(paths, _read_options(**inputs), format_in)
        summaries, problems, unreadable = sort_read(
            items, lambda run: summarise(run, config.signals)
        )
    _report_problems(problems)
    _nothing_read(paths, summaries, unreadable)
    summaries += [unreadable_summary(p.source, p.message) for p in unreadable]
    if output_format == "json":
        click.echo(runs_report.render_json(summaries, [*problems, *unreadable]))
    else:
        click.echo(runs_report.render_text(summaries))


def _audit(
    paths,
    format_in,
    experiment,
    run_id,
    filter_string,
    timeout,
    select,
    ignore,
    fail_on,
    rules_dir,
    jobs,
    scheduler=None,
    collect=None,
    on_diagnosis=None,
    retain=True,
    **tags,
) -> tuple[Config, AuditResult]:
    """`lrdoctor.audit` with the command's options, a progress bar and its problems reported;
    `collect`, `on_diagnosis` and `retain` are the library's."""
    from lrdoctor.audit import audit
    from lrdoctor.cluster import ClusterError
    from lrdoctor.remote import RemoteError

    config = _config(select, ignore, fail_on, rules_dir, signals=_tag_overrides(**tags))
    options = _read_options(experiment, run_id, filter_string, timeout)
    judged = Counter()  # runs judged, also when the result keeps no diagnosis (retain=False)

    def seen(diagnosis) -> None:
        judged["runs"] += 1
        if on_diagnosis is not None:
            on_diagnosis(diagnosis)

    try:
        with _Progress() as progress:
            result = audit(
                paths,
                config,
                options,
                format_in,
                jobs,
                on_progress=progress.update,
                on_diagnosis=seen,
                collect=collect,
                scheduler=scheduler or None,
                retain=retain,
            )
    except (EngineError, ClusterError, RemoteError) as error:
        raise InputError(str(error)) from error
    _report_problems(result.problems)
    if not judged["runs"]:
        raise InputError(f"nothing could be read from {', '.join(paths)}")
    return config, result


def _exit_status(config: Config, result: AuditResult) -> int:
    findings = [finding for d in result.diagnoses for finding in d.findings]
    return _status(config, result.paths, [d.verdict for d in result.diagnoses], findings)


def _status(config: Config, paths, verdicts: list[str], findings: list) -> int:
    """2 when no run could be read, whatever --fail-on says: an audit of nothing passed no
    check. The report listing each unreadable run and why has been written by then."""
    from lrdoctor.audit import nothing_read

    if nothing_read(verdicts):
        message = f"nothing could be read from {', '.join(paths)}"
        click.echo(f"Error: {printable(message)}", err=True)
        return EXIT_INPUT_ERROR
    return EXIT_FINDINGS if fails(findings, config.fail_on) else EXIT_OK


def _writable(output: Path) -> None:
    """Create the report's folder before the audit starts, so a path that cannot be written
    fails at once with one line instead of after the audit."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:
        raise InputError(
            f"cannot write the report to {output}: {error.filename} is a file, not a folder"
        ) from error
    except OSError as error:
        raise _cannot_write(output, error) from error


def _cannot_write(output: Path, error: OSError) -> InputError:
    """One line naming the report, and the path that failed when it is another one."""
    where = f"{error.filename}: " if error.filename and Path(error.filename) != output else ""
    return InputError(f"cannot write the report to {output}: {where}{error.strerror or error}")


@main.command(context_settings=CONTEXT_SETTINGS)
@input_options
@rule_options
@jobs_option
@scheduler_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(list(REPORTERS)),
    default="text",
    show_default=True,
    help="A table for people, JSON (schema lrdoctor.audit/1) for programs, JSON lines (one "
    "run entry per line, written as each run is judged), CSV (a row per run), GitHub "
    "annotations plus a $GITHUB_STEP_SUMMARY table, a ten-line summary for a chat message, "
    "a Markdown post-mortem (needs --output; plots saved beside it) or one self-contained "
    "HTML page.",
)
@click.option(
    "--per-finding",
    is_flag=True,
    help="With --format csv: a row per finding (its rule, steps, message and first remedy) "
    "instead of a row per run.",
)
@output_option
@click.pass_context
def audit(ctx, output_format, per_finding, output, **inputs) -> None:
    """Diagnose every run found in PATHS and summarise the verdicts.

    Exit status: 0 when the audit ran (and no finding reached --fail-on), 1 when a finding
    is at or above --fail-on, 2 when no run could be read (whatever --fail-on says), the
    report cannot be written or the options are wrong.

    \b
    Examples:
      lrdoctor audit experiments/
      lrdoctor audit mlruns --experiment sweep --format json -o audit.json
      lrdoctor audit logs/ --format html -o report.html
      lrdoctor audit runs/failed-7 --format markdown -o postmortem.md
      lrdoctor audit logs/ --fail-on error --ignore minibatch-noise
      lrdoctor audit /shared/runs --scheduler tcp://scheduler:8786 --format jsonl
    """
    _ignored_jobs(ctx, inputs["scheduler"])
    reporter = REPORTERS[output_format]
    if per_finding:
        if output_format != "csv":
            raise click.UsageError("--per-finding goes with --format csv")
        reporter = CSV_PER_FINDING
    if reporter.needs_output and output is None:
        raise click.UsageError(f"--format {output_format} needs --output FILE")
    if output is not None:
        _writable(output)
    if reporter.line is not None:
        ctx.exit(_stream(reporter, output, inputs))
    config, result = _audit(collect=reporter.collect, **inputs)
    try:
        text = reporter.render(result, output)
        if output:
            output.write_text(click.unstyle(text) + "\n", encoding="utf-8")
    except OSError as error:
        raise _cannot_write(output, error) from error
    if not output:
        click.echo(text, color=_colour())
    ctx.exit(_exit_status(config, result))


def _ignored_jobs(ctx: click.Context, scheduler: str | None) -> None:
    """Say so when --jobs was given for a cluster that sets its own parallelism."""
    from lrdoctor.cluster import LOCAL

    given = ctx.get_parameter_source("jobs") is not click.core.ParameterSource.DEFAULT
    if scheduler and scheduler != LOCAL and given:
        click.echo(
            f"lrdoctor: --jobs is ignored with --scheduler {printable(scheduler)}: "
            "the cluster's workers set the parallelism",
            err=True,
        )


def _stream(reporter, output: Path | None, inputs: dict) -> int:
    """Write each run's line as soon as it is judged (to the file, flushed, or stdout), so a
    watcher of a long audit sees results while the audit runs; return the exit status."""
    try:
        out = output.open("w", encoding="utf-8") if output else None
    except OSError as error:
        raise _cannot_write(output, error) from error

    verdicts, severities = [], {}  # what the exit status needs, without the diagnoses

    def write(diagnosis) -> None:
        verdicts.append(diagnosis.verdict)
        severities.update((finding.severity, finding) for finding in diagnosis.findings)
        line = reporter.line(diagnosis)
        if out is None:
            click.echo(line)
            return
        try:
            out.write(line + "\n")
            out.flush()
        except OSError as error:
            raise _cannot_write(output, error) from error

    try:
        config, result = _audit(on_diagnosis=write, retain=False, **inputs)
    finally:
        if out is not None:
            out.close()
    return _status(config, result.paths, verdicts, list(severities.values()))


@main.command(context_settings=CONTEXT_SETTINGS)
@input_options
@rule_options
@jobs_option
@text_or_json("Output for people or JSON (the run entries of lrdoctor.audit/1).")
@click.pass_context
def diagnose(ctx, output_format, **inputs) -> None:
    """Diagnose a run in full: every finding with its evidence and remedies in order.

    Given a folder holding several runs, each is shown in turn.

    \b
    Examples:
      lrdoctor diagnose runs/resnet-lr0.1
      lrdoctor diagnose mlruns --run-id 3f2c9a0e --format json
    """
    from lrdoctor.reporters import audit as audit_report

    config, result = _audit(**inputs)
    if output_format == "json":
        click.echo(audit_report.render_json(result))
    else:
        text = "\n\n".join(audit_report.render_diagnosis_text(d) for d in result.diagnoses)
        click.echo(text, color=_colour())
    ctx.exit(_exit_status(config, result))


@main.command(context_settings=CONTEXT_SETTINGS)
@input_options
@click.option("--by", default="lr", show_default=True, help="The swept parameter.")
@click.option(
    "--group-by", multiple=True, help="A parameter whose values split runs into separate sweeps."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    show_default=True,
    help="A table per sweep for people, JSON (schema lrdoctor.sweep/1) for programs, Markdown "
    "(needs --output; plots saved beside it) or one self-contained HTML page with the plots.",
)
@output_option
def sweep(by, group_by, output_format, output, **inputs) -> None:
    """Find the learning-rate sweeps in PATHS and recommend an LR for each, with the reasons.

    Runs that share everything but the LR (read from params, the LR curve or the run name)
    form a sweep; a second varying parameter such as the batch size gives a sweep per value.

    \b
    Examples:
      lrdoctor sweep sweeps/
      lrdoctor sweep mlruns --experiment lr-sweep --format json -o sweep.json
      lrdoctor sweep runs/ --group-by batch_size
    """
    from lrdoctor.reporters import sweep as sweep_report
    from lrdoctor.sweep import SweepOptions, read_sweeps

    if output_format == "markdown" and output is None:
        raise click.UsageError("--format markdown needs --output FILE")
    if output is not None:
        _writable(output)
    config = _config(signals=_tag_overrides(**{name: inputs.pop(name) for name in _TAG_OPTIONS}))
    discovery = _read(**inputs)
    doctor = _doctor(config)
    runs = [run for run in discovery.runs if run.total_points]
    result = read_sweeps(runs, SweepOptions(by=by, group_by=tuple(group_by)), doctor)
    result = replace(result, problems=discovery.problems, runs_read=len(discovery.runs))
    try:
        if output_format == "markdown":
            text = sweep_report.render_markdown(result, output)
        elif output_format == "html":
            text = sweep_report.render_html(result)
        elif output_format == "json":
            text = sweep_report.render_json(result)
        else:
            text = sweep_report.render_text(result)
    except OSError as error:
        raise _cannot_write(output, error) from error
    if output is None:
        click.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise _cannot_write(output, error) from error


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--rules-dir",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Also list rule files from this folder.",
)
@text_or_json("Output as a table or JSON.")
def rules(rules_dir, output_format) -> None:
    """List the rule catalogue: code, name, verdict, severity and title.

    \b
    Examples:
      lrdoctor rules
      lrdoctor rules --format json
    """
    from lrdoctor.reporters import rules as rules_report

    catalogue = _catalogue(rules_dir)
    if output_format == "json":
        click.echo(rules_report.render_catalogue_json(catalogue))
    else:
        click.echo(rules_report.render_catalogue_text(catalogue))


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("rule", required=False)
@click.option("--all", "every_rule", is_flag=True, help="Every rule's page, in code order.")
@click.option(
    "--rules-dir",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Also look in rule files from this folder.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="A page for the terminal, JSON for tools, or Markdown (with --all: docs/rules.md).",
)
def explain(rule, every_rule, rules_dir, output_format) -> None:
    """Print a rule's page: what it detects, why it matters, an example, the fix, options.

    RULE is a code (LRD101) or a name (loss-not-finite); --all prints every rule's page.

    \b
    Examples:
      lrdoctor explain LRD101
      lrdoctor explain minibatch-noise --format json
      lrdoctor explain --all --format markdown > docs/rules.md
    """
    from lrdoctor.reporters import rules as rules_report

    if every_rule == (rule is not None):
        raise click.UsageError("give either a RULE (code or name) or --all")
    catalogue = _catalogue(rules_dir)
    if every_rule:
        chosen = list(catalogue)
    else:
        found = catalogue.get(rule)
        if found is None:
            raise InputError(
                f"no rule {rule!r}{catalogue.suggest(rule)}; `lrdoctor rules` lists them"
            )
        chosen = [found]
    click.echo(rules_report.render_pages(chosen, output_format, as_document=every_rule))


@main.command(context_settings=CONTEXT_SETTINGS)
@text_or_json("Output for people or JSON for tools.")
def features(output_format) -> None:
    """List every name a rule condition may use, with what it measures and on which curve.

    \b
    Examples:
      lrdoctor features
      lrdoctor features --format json
    """
    from lrdoctor.reporters import features as features_report

    entries = features_report.describe_features()
    if output_format == "json":
        click.echo(features_report.render_json(entries))
    else:
        click.echo(features_report.render_text(entries))


def _catalogue(rules_dir):
    from lrdoctor.features import known_features

    try:
        return load_catalogue(
            extra_dirs=[Path(d) for d in rules_dir], known_features=known_features()
        )
    except EngineError as error:
        raise InputError(str(error)) from error


EXIT_INTERRUPTED = 130


@main.command(context_settings=CONTEXT_SETTINGS)
@input_options
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Seconds between polls. MLflow SQLite stores and servers are read at most every 30 s.",
)
@click.option("--once", is_flag=True, help="One pass, judging every run as finished; then exit.")
@click.option(
    "--until",
    type=click.Choice(SEVERITIES),
    help="Exit with status 1 after the poll in which a run first has a finding of this "
    "severity or a higher one.",
)
@click.option(
    "--quiet-after",
    type=click.FloatRange(min=1.0),
    default=900.0,
    show_default=True,
    help="Close a run after this many seconds without a new point: it is judged as finished "
    "(by the rules that wait for the end of a run) and dropped from memory.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    show_default=True,
    help="A line per change for people, or a JSON object per line (lrdoctor.watch/1).",
)
@click.option(
    "--select",
    multiple=True,
    help="Only these rules (code, prefix or name; repeat or separate with commas).",
)
@click.option(
    "--ignore",
    multiple=True,
    help="Skip these rules (code, prefix or name; repeat or separate with commas).",
)
@click.option(
    "--rules-dir",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Also load rule files (*.toml) from this folder.",
)
@click.pass_context
def watch(
    ctx,
    paths,
    format_in,
    experiment,
    run_id,
    filter_string,
    timeout,
    interval,
    once,
    until,
    quiet_after,
    output_format,
    select,
    ignore,
    rules_dir,
    **tags,
) -> None:
    """Follow the runs in PATHS while they train; print a line when a verdict or finding changes.

    Each poll reads only what was written since the last one (TensorBoard records, CSV
    lines, MLflow metric lines) and re-diagnoses the runs that grew; new runs and event files
    are picked up. A healthy run prints nothing. Problems go to stderr, changes to stdout.

    Exit status: 1 when --until is reached, 0 after --once otherwise (or 130 on Ctrl-C), 2
    when a path does not exist or the options are wrong.

    \b
    Examples:
      lrdoctor watch runs/
      lrdoctor watch runs/ mlruns --interval 10 --until error
      lrdoctor watch logs/ --once --format jsonl
    """
    from lrdoctor.discovery import is_uri
    from lrdoctor.reporters import watch as watch_report
    from lrdoctor.watch import Change, reaches
    from lrdoctor.watch import watch as follow

    missing = [path for path in paths if not is_uri(path) and not Path(path).exists()]
    if missing:
        raise InputError(f"{', '.join(missing)}: no such file or folder")
    config = _config(select, ignore, None, rules_dir, signals=_tag_overrides(**tags))
    options = _read_options(experiment, run_id, filter_string, timeout)
    render = watch_report.render_json_line if output_format == "jsonl" else watch_report.render_text

    def announce(summary) -> None:
        if summary.number == 1 and once and not summary.runs:
            raise InputError(f"nothing could be read from {', '.join(paths)}")
        if summary.number == 1 and not once:
            click.echo(
                f"lrdoctor: watching {summary.runs} run(s) in {summary.sources} source(s) every "
                f"{interval:g} s (Ctrl-C stops)",
                err=True,
            )

    reached = False
    changes = follow(
        paths,
        config,
        options,
        format_in,
        interval=interval,
        once=once,
        until=until,
        quiet_after=quiet_after,
        on_poll=announce,
    )
    try:
        for event in changes:
            if not isinstance(event, Change):
                _report_problems([event])
                continue
            click.echo(render(event))
            reached = reached or reaches(event, until)
    except EngineError as error:
        raise InputError(str(error)) from error
    except KeyboardInterrupt:
        ctx.exit(EXIT_INTERRUPTED)
    ctx.exit(EXIT_FINDINGS if reached else EXIT_OK)
