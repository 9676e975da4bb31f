"""The `inrzip` command: a thin Typer layer over inrzip.api that parses, calls and prints.

Exit codes: 0 ok, 1 usage error, 2 bad or damaged input, 3 internal error, 130 interrupted.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import api, media

try:  # recent typer vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException

from .errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_USAGE, InrzipError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compress images and audio with implicit neural representations (.inrz).")
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one error = one line

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object per file on stdout.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing outputs.")]


def _parse_options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--opt {pair!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def _emit(result: dict, as_json: bool, text: str, quiet: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        sys.stdout.flush()
    elif not quiet:
        err.print(text)


class _Bar:
    """Rich progress bar fed by the encoder's progress callback (stderr, TTY only)."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled
        self.label = label
        self.progress = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total}"),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                     console=err, transient=True)
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int, **info: float) -> None:
        if self.progress is None:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(f"{self.label} {stage}", total=total, info="")
        text = " ".join(f"{k} {v:.2f}" for k, v in info.items())
        self.progress.update(self.tasks[stage], completed=done, total=total, info=text)


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _encode_output(src: str, output: str | None, many: bool) -> str | None:
    """Where one input's .inrz goes: -o file, -o dir/, beside the input, or stdout ('-')."""
    if output == "-" or (output is None and src == "-"):
        return "-"
    if output is not None and (many or Path(output).is_dir() or output.endswith("/")):
        out_dir = Path(output)
        if not out_dir.is_dir():
            raise UsageError(f"{output}: output directory does not exist")
        return str(out_dir / (Path(src).stem + ".inrz"))
    if output is not None:
        return output
    return str(Path(src).with_suffix(".inrz"))


@app.command()
def encode(
    inputs: Annotated[list[str], typer.Argument(help="Image or audio files ('-' for stdin).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output file, directory (for several inputs), or '-' for stdout.")] = None,
    rate: Annotated[str | None, typer.Option("--rate", "-b", help="Target rate: 0.3bpp, 24kbps, 50KB, or a number in bpp (image) / kbps (audio).")] = None,
    backend: Annotated[str | None, typer.Option("--backend", help="sinr (default), rec, lossless, croppable.")] = None,
    lossless: Annotated[bool, typer.Option("--lossless", help="Bit-exact coding (same as --backend lossless).")] = False,
    effort: Annotated[str, typer.Option(help="fast | normal | max: fitting iterations.")] = "normal",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for fitting and the shared dictionary.")] = 0,
    opt: Annotated[list[str], typer.Option("--opt", "-O", help="Backend option key=value (repeatable), e.g. mode=plain.")] = [],
    force: Force = False, quiet: Quiet = False, as_json: AsJson = False,
) -> None:
    """Fit an INR to each input and write it as a .inrz file."""
    if len(inputs) > 1 and output == "-":
        raise UsageError("several inputs cannot all go to stdout")
    if inputs.count("-") > 1 or ("-" in inputs and len(inputs) > 1):
        raise UsageError("'-' (stdin) must be the only input")
    if lossless:
        if backend not in (None, "lossless"):
            raise UsageError(f"--lossless conflicts with --backend {backend}")
        if rate is not None:
            raise UsageError("--lossless takes no rate: the file is as small as the model makes it")
        backend = "lossless"
    options = {"effort": effort, "device": device, "seed": seed, **_parse_options(opt)}
    dests = [_encode_output(src, output, len(inputs) > 1) for src in inputs]
    clashes = sorted({d for d in dests if dests.count(d) > 1})
    if clashes:
        raise UsageError(f"several inputs would be written to {clashes[0]}")
    failures = 0
    for src, dest in zip(inputs, dests):
        try:
            source = sys.stdin.buffer.read() if src == "-" else src
            with _Bar(_show_progress(quiet), Path(src).name) as bar:
                report = api.encode(source, None if dest == "-" else dest, rate=rate,
                                    backend=backend, options=options, force=force, progress=bar)
            if dest == "-":
                sys.stdout.buffer.write(report.data)
                sys.stdout.buffer.flush()
            note = report.stats.get("rate_note")
            text = (f"{src} -> {dest}: {report.bytes} B, {report.rate:.4g} {report.rate_unit}, "
                    f"PSNR {report.psnr:.2f} dB, {report.encode_s:.1f} s" + (f" ({note})" if note else ""))
            _emit(report.as_dict(), as_json and dest != "-", text, quiet)
        except InrzipError as e:
            if len(inputs) == 1:
                raise
            failures += 1
            _emit({"input": src, "error": str(e)}, as_json, f"[red]error:[/red] {e}", False)
    if failures:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def decode(
    input: Annotated[str, typer.Argument(help=".inrz file ('-' for stdin).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output file or '-' for stdout (default: input name with .png/.wav).")] = None,
    crop: Annotated[str | None, typer.Option(help="Region in source samples: y0:y1,x0:x1 (image), 2.5s:4s or a:b (audio).")] = None,
    scale: Annotated[float, typer.Option(help="Decode at this multiple of the stored resolution.")] = 1.0,
    fmt: Annotated[str | None, typer.Option("--format", help="Output format (png, tiff, wav, flac, ...).")] = None,
    force: Force = False, quiet: Quiet = False, as_json: AsJson = False,
) -> None:
    """Decode a .inrz file (numpy only), optionally a crop or at another scale."""
    if output is None and input == "-":
        output = "-"
    if output == "-":
        report = api.decode(sys.stdin.buffer.read() if input == "-" else input, sys.stdout.buffer,
                            crop=crop, scale=scale, fmt=fmt, force=force)
        sys.stdout.buffer.flush()
        if as_json:
            err.print(json.dumps(report.as_dict()))
        return
    if output is None:
        with api._open_reader(input) as reader:
            modality = reader.header.modality
        output = str(Path(input).with_suffix(media.output_extension(fmt or media.default_format(modality))))
    report = api.decode(sys.stdin.buffer.read() if input == "-" else input, output, crop=crop,
                        scale=scale, fmt=fmt, force=force)
    text = (f"{input} -> {output}: {'x'.join(map(str, report.shape))}, {report.decode_s:.2f} s, "
            f"read {report.bytes_read}/{report.file_bytes} B")
    _emit(report.as_dict(), as_json, text, quiet)


@app.command()
def crop(
    input: Annotated[str, typer.Argument(help="croppable .inrz file ('-' for stdin).")],
    region: Annotated[str, typer.Option("--region", "-r", help="Region in source samples: y0:y1,x0:x1 (image), 2.5s:4s or a:b (audio), t0:t1,y0:y1,x0:x1 (video).")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output .inrz or '-' for stdout (default: input name with -crop.inrz).")] = None,
    force: Force = False, quiet: Quiet = False, as_json: AsJson = False,
) -> None:
    """Cut a croppable .inrz file down to a region, without decoding or refitting."""
    if output is None:
        output = "-" if input == "-" else str(Path(input).with_name(Path(input).stem + "-crop.inrz"))
    source = sys.stdin.buffer.read() if input == "-" else input
    report = api.crop(source, None if output == "-" else output, region=region, force=force)
    if output == "-":
        sys.stdout.buffer.write(report.data)
        sys.stdout.buffer.flush()
        return
    text = (f"{input} -> {output}: {'x'.join(map(str, report.shape))}, {report.bytes} B "
            f"(from {report.input_bytes} B, read {report.bytes_read} B), {report.crop_s * 1000:.1f} ms")
    _emit(report.as_dict(), as_json, text, quiet)


@app.command()
def info(
    input: Annotated[str, typer.Argument(help=".inrz file ('-' for stdin).")],
    as_json: AsJson = False,
) -> None:
    """Show backend, geometry, parameters, chunks (size, checksum state) and rate."""
    result = api.info(sys.stdin.buffer.read() if input == "-" else input)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out = Console(highlight=False, soft_wrap=True)
        rate_key = "kbps" if "kbps" in result else "bpp"
        out.print(f"[bold]{result['file']}[/bold]  .inrz {result['version']}  backend "
                  f"[cyan]{result['backend']}[/cyan]  {result['modality']}")
        geo = "x".join(map(str, result["shape"])) + f" x {result['channels']} ch, {result['bit_depth']}-bit"
        if "sample_rate" in result:
            geo += f", {result['sample_rate']} Hz"
        out.print(f"  geometry  {geo}")
        out.print(f"  size      {result['file_bytes']} B ({result['header_bytes']} B header), "
                  f"{result[rate_key]:.4g} {rate_key}")
        out.print("  params    " + ", ".join(f"{k}={v}" for k, v in result["params"].items()))
        for c in result["chunks"]:
            state = "[green]ok[/green]" if c["checksum_ok"] else "[red]DAMAGED[/red]"
            out.print(f"  chunk {c['index']}  {c['name']:<10} {c['tag']} {c['bytes']:>9} B  {state}")
    if not result["ok"]:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="Folder of training images, audio or video (never the test set).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model pack to write (.safetensors).")],
    rate: Annotated[str, typer.Option("--rate", "-b", help="Bit budget the pack is trained for: 0.3bpp (image; video: bits per voxel), 6kbps or 0.4bpp = bits per sample (audio).")] = "0.3bpp",
    modality: Annotated[str, typer.Option(help="image | audio | video.")] = "image",
    sample_rate: Annotated[int, typer.Option(help="Audio: the sample rate the pack is for: it turns a kbps budget into bits per sample, and the training files are resampled to it (-O sample_rate=0 keeps each file's own).")] = 16000,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint file: saved every EM iteration, resumed from if it exists.")] = None,
    init: Annotated[Path | None, typer.Option("--init", help="Warm-start from this pack (A, upsampler, priors, beta); give a new -O seed=N to train on new crops.")] = None,
    opt: Annotated[list[str] | None, typer.Option("--opt", "-O", help="Training option key=value (crops, crop_rows, crop_cols, crop_frames, downscale, em_iterations, e_steps, warmup, lr, lr_a, lr_std, posterior_std0, pixel_fraction, seed, beta0, sample_rate; arch.* for the network).")] = None,
    force: Force = False, quiet: Quiet = False, as_json: AsJson = False,
) -> None:
    """Learn a rec model pack: A, the positional-encoding upsampler and the hierarchical prior."""
    from .fileio import check_output
    from .rate import parse_rate

    if modality not in ("image", "audio", "video"):
        raise UsageError(f"--modality {modality}: expected image, audio or video")
    if not data.is_dir():
        raise UsageError(f"--data {data}: not a folder")
    if sample_rate <= 0:
        raise UsageError("--sample-rate must be positive")
    check_output(output, force)
    budget = parse_rate(rate, modality)
    if budget.unit == "bpp":
        per_point = budget.value
    elif modality == "audio" and budget.unit in ("bps", "kbps", "kb/s", "mbps", "mb/s"):
        per_point = budget.budget_bits(1, 1.0) / sample_rate
    else:
        raise UsageError(f"--rate {rate}: give the pack's budget in bpp"
                         + (" or kbps" if modality == "audio" else "") + " (e.g. 0.3bpp)")
    from .backends.rec import train as rec_train

    parsed = _parse_options(opt or [])
    if modality == "audio":
        parsed.setdefault("sample_rate", str(sample_rate))
    options = rec_train.parse_train_options(parsed, per_point, device, modality)
    start = None
    if init is not None:
        from .backends.rec import pack as rec_pack

        start = rec_pack.load(init)
    with _Bar(_show_progress(quiet), output.name) as bar:
        pack = rec_train.train(data, output, options, progress=bar, checkpoint=checkpoint, init=start)
    result = {"output": str(output), "pack": pack.pack_id.hex(), "rate_bpp": pack.rate_bpp,
              "level_bits": pack.level_bits, "seconds": pack.info["seconds"]}
    unit = {"image": "bits per pixel", "audio": "bits per sample", "video": "bits per voxel"}[modality]
    _emit(result, as_json, f"{output}: pack {pack.pack_id.hex()} for {pack.rate_bpp:.4g} {unit} in {pack.info['seconds']} s", quiet)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: maps every failure to one line on stderr and an exit code."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="inrzip")
        code = result if isinstance(result, int) else 0
        if code == 130:   # typer turns Ctrl-C inside a command into a silent exit code 130
            err.print("inrzip: interrupted", markup=False)
        return code
    except typer.Exit as e:
        return e.exit_code
    except ClickException as e:  # bad arguments or options (or no arguments: help shown)
        if e.format_message():
            err.print(f"inrzip: error: {e.format_message()}", markup=False)
        return EXIT_USAGE
    except typer.Abort:
        err.print("inrzip: interrupted", markup=False)
        return 130
    except KeyboardInterrupt:
        err.print("inrzip: interrupted", markup=False)
        return 130
    except InrzipError as e:
        err.print(f"inrzip: error: {e}", markup=False)
        return e.exit_code
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug: still one line, but say it is ours
        err.print(f"inrzip: internal error: {type(e).__name__}: {e} (please report)", markup=False)
        return EXIT_INTERNAL


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
