"""The `hwsim` command: a thin click group over the library.

Every error a user can cause surfaces as one line on stderr and exit code 2; `--debug` shows
the traceback instead. Subcommands live in one module each and import heavy libraries inside
their functions, so `hwsim --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
        except BrokenPipeError:  # output piped into `head`: click's main stops quietly
            raise
        except HwsimError as exc:
            _fail(ctx, str(exc), exc)
        except OSError as exc:  # the environment, not a bug: a path that cannot be written, a full disk
            _fail(ctx, f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc), exc)
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
@click.option("--presets", "preset_dirs", multiple=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Add the presets in DIR (models/, hardware/, sweeps/, reports/ of YAML files); "
                   "repeatable, also read from the HWSIM_PATH environment variable.")
@click.pass_context
def main(ctx: click.Context, debug: bool, preset_dirs: tuple[Path, ...]) -> None:
    """hwsim: simulate looped and standard transformers on real and hypothetical hardware.

    Presets: `hwsim list models`, `hwsim list hardware`; details: `hwsim show NAME`.
    """
    ctx.obj = {"debug": debug}
    if preset_dirs:
        from hwsim import resources

        for directory in reversed(preset_dirs):  # the first given is searched first
            resources.add_user_dir(directory)


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
