"""The `hwsim` command: a thin click group over the library.

Every error a user can cause surfaces as one line on stderr and exit code 2; `--debug` shows
the traceback instead. Subcommands live in one module each and import heavy libraries inside
their functions, so `hwsim --help` stays fast.
"""

from __future__ import annotations

import sys

import click

from hwsim import __version__
from hwsim.errors import HwsimError


class _Group(click.Group):
    """Turns any exception into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except HwsimError as exc:
            _fail(ctx, str(exc), exc)
        except KeyboardInterrupt:
            click.echo("hwsim: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: still one line, with the type, unless --debug
            _fail(ctx, f"internal error ({type(exc).__name__}): {exc} (rerun with --debug for the traceback)", exc)


def _fail(ctx: click.Context, message: str, exc: BaseException):
    if (ctx.obj or {}).get("debug"):
        raise exc
    click.echo(f"hwsim: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hwsim")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """hwsim: simulate looped and standard transformers on real and hypothetical hardware.

    Presets: `hwsim list models`, `hwsim list hardware`; details: `hwsim show NAME`.
    """
    ctx.obj = {"debug": debug}


@main.group()
def validate() -> None:
    """Check the simulator against the reference executor, this machine, or measured data."""


@main.group()
def calibrate() -> None:
    """Fit efficiency figures from measurements."""


# Subcommands, one module each.
from hwsim.cli import presets, reference, report, simulate, sweep, trace, validate_measured  # noqa: E402

for command in (presets.list_presets, presets.show, trace.trace_command, simulate.simulate_cmd,
                sweep.sweep, report.report_command, report.feasibility_command):
    main.add_command(command)
for command in (reference.validate_reference, reference.validate_local, validate_measured.validate_measured):
    validate.add_command(command)
for command in (reference.calibrate_local, validate_measured.calibrate_measured):
    calibrate.add_command(command)

from hwsim.cli import chip  # noqa: E402  (hwsim.chip: hypothetical chips and the iso-budget search)

main.add_command(chip.chip)
from hwsim.cli import capture  # noqa: E402
validate.add_command(capture.validate_capture)
from hwsim.cli.quality import quality_command  # noqa: E402

main.add_command(quality_command)
