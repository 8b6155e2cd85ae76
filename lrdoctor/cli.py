"""The `lrdoctor` command: parses options, calls the library, renders, sets the exit status."""

from __future__ import annotations

import functools

import click

from lrdoctor import __version__
from lrdoctor.discovery import Discovery, read_runs
from lrdoctor.inventory import summarise
from lrdoctor.readers import ReadOptions, registry
from lrdoctor.reporters import runs as runs_report

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT_ERROR = 2

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class InputError(click.ClickException):
    """Nothing usable could be read: exit status 2, message on stderr, no traceback."""

    exit_code = EXIT_INPUT_ERROR


def input_options(command):
    """Options every command that reads runs shares: paths, format, MLflow selection, tags."""
    options = [
        click.argument("paths", nargs=-1, required=True),
        click.option(
            "--format-in",
            type=click.Choice(sorted(registry())),
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


def _read(paths, format_in, experiment, run_id, filter_string, timeout) -> Discovery:
    options = ReadOptions(
        experiment=experiment, run_id=run_id, filter_string=filter_string, timeout=timeout
    )
    discovery = read_runs(paths, options, format_in)
    for problem in discovery.problems:
        click.echo(f"lrdoctor: {problem}", err=True)
    if not any(run.total_points for run in discovery.runs):
        found = f"{len(discovery.runs)} run(s) with no data points" if discovery.runs else "no runs"
        raise InputError(f"nothing could be read from {', '.join(paths)}: {found}")
    return discovery


def _overrides(loss_tag, val_loss_tag, grad_norm_tag, lr_tag) -> dict[str, str]:
    given = {
        "train_loss": loss_tag,
        "val_loss": val_loss_tag,
        "grad_norm": grad_norm_tag,
        "lr": lr_tag,
    }
    return {role: tag for role, tag in given.items() if tag}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="lrdoctor")
def main() -> None:
    """Diagnose training runs from their logged curves before touching the learning rate.

    \b
    Examples:
      lrdoctor runs runs/                  list every run found under runs/
      lrdoctor runs mlruns --experiment baseline
      lrdoctor runs sqlite:///mlflow.db --format json
    """


@main.command(context_settings=CONTEXT_SETTINGS)
@input_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output as a table for people or JSON for programs.",
)
def runs(
    paths,
    format_in,
    experiment,
    run_id,
    filter_string,
    timeout,
    loss_tag,
    val_loss_tag,
    grad_norm_tag,
    lr_tag,
    output_format,
) -> None:
    """List every run found in PATHS (files, folders, MLflow tracking URIs).

    Shows each run's format, the tag chosen for each signal (train loss, val loss, grad
    norm, lr) with its number of points, and any warnings from reading it.

    \b
    Examples:
      lrdoctor runs logs/
      lrdoctor runs mlruns sqlite:///mlflow.db http://127.0.0.1:5000 --experiment sweep
      lrdoctor runs logs/ --format json --loss-tag train/nll_loss
    """
    discovery = _read(paths, format_in, experiment, run_id, filter_string, timeout)
    overrides = _overrides(loss_tag, val_loss_tag, grad_norm_tag, lr_tag)
    summaries = [summarise(run, overrides) for run in discovery.runs]
    if output_format == "json":
        click.echo(runs_report.render_json(summaries, discovery.problems))
    else:
        click.echo(runs_report.render_text(summaries))
