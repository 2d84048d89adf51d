"""`millgate exports ...` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the rest is imported when a command runs: --help stays quick
    from exports.job import RunReport
    from exports.webhooks import DeliveryReport

app = typer.Typer(no_args_is_help=True, help="Gateway exports to data hosts.")


async def _one_pass() -> tuple[RunReport, DeliveryReport]:
    from core.runtime import Runtime
    from core.settings import Settings
    from exports.job import run_once
    from exports.webhooks import deliver_pending

    runtime = Runtime.create(Settings())
    try:
        report = await run_once(runtime.sessionmaker, runtime.keys)
        deliveries = await deliver_pending(
            runtime.sessionmaker,
            runtime.keys,
            allow_loopback=runtime.settings.webhook_allow_loopback,
        )
        return report, deliveries
    finally:
        await runtime.close()


async def _work(interval: float) -> None:
    import asyncio
    import datetime as dt
    import signal

    from audit.checkpoints import CheckpointSchedule, CheckpointStore
    from core.runtime import Runtime
    from core.settings import Settings
    from exports.job import run_forever

    runtime = Runtime.create(Settings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    typer.echo(f"export worker: a pass every {interval:g} s; Ctrl-C or SIGTERM stops it")
    try:
        await run_forever(
            runtime.sessionmaker,
            runtime.keys,
            interval=interval,
            stop=stop,
            allow_loopback=runtime.settings.webhook_allow_loopback,
            checkpoints=CheckpointSchedule(
                CheckpointStore(runtime.settings.effective_checkpoint_dir),
                runtime.settings.token_issuer,
                dt.timedelta(seconds=runtime.settings.checkpoint_interval_seconds),
            ),
            access_log_retention_months=runtime.settings.access_log_retention_months,
        )
    finally:
        await runtime.close()


@app.command("run")
def run() -> None:
    """One pass: write every export that is due, then deliver pending webhooks.

    Exits 0 when the pass did its work, naming any host that got nothing because of its
    own key; 1 when an export failed for another reason.
    """
    import asyncio

    from authz.guard import install_guard

    install_guard()  # the job's reads must all be marked as the platform's
    report, deliveries = asyncio.run(_one_pass())
    typer.echo(report.summary())
    typer.echo(
        f"webhooks: {deliveries.delivered} delivered, {deliveries.retrying} to retry, "
        f"{deliveries.failed} failed"
    )
    for host_id, why in deliveries.not_delivered:
        typer.echo(f"webhook to host {host_id} not delivered: {why}")
    for failure in report.failed_hosts:
        typer.echo(f"host {failure.host_id} failed: {failure.reason}")
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    # One host's unusable key is that host's to fix: the pass did its work for the others.
    if report.pass_failed:
        raise typer.Exit(1)


@app.command("worker")
def worker(
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between two passes."),
    metrics_port: int = typer.Option(
        0,
        "--metrics-port",
        envvar="MILLGATE_WORKER_METRICS_PORT",
        help="Serve this worker's Prometheus metrics on this port (0: not served).",
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", "--metrics-host", help="Interface of the metrics port."
    ),
) -> None:
    """Run passes, webhook deliveries, audit checkpoints and the access log's maintenance
    (partitions ahead, retention) until Ctrl-C or SIGTERM."""
    import asyncio

    from authz.guard import install_guard
    from core.logs import configure_logging

    install_guard()
    configure_logging()
    if metrics_port:
        from prometheus_client import start_http_server

        from cli.serve import claim_port

        claim_port(metrics_host, metrics_port)
        start_http_server(metrics_port, addr=metrics_host)
    asyncio.run(_work(interval))
    typer.echo("export worker stopped")
