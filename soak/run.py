"""`python -m soak.run`: 50 SIGKILLs of the real hourly job, each rerun to completion and compared with a clean run,
then 1,000,000 hostile lines through ingest; prints the figures.

    kills: 50, diffs: 0
    lines: 1000000, crashes: 0, unclassified: 0

Crash: one hour (CloudEvents in four files, Envoy, billing-client and Data API lines, quotas
that fire) runs as the real job in a child process (metering_pipeline_tests/support/
crash_harness.py). Two clean runs, one exporting to a local folder and one to S3 (moto),
are the reference and must be identical to each other. Then episodes: a fresh warehouse and
export (local or S3, alternating), one or two runs SIGKILLed at seeded points (file reads, the
ClickHouse load, between the two REPLACEs, between REPLACE and cleanup, between export PUTs,
before the ledger commit, between ledger rows and revision row, before the manifest, inside
dbt, a random statement, a random moment from outside), then a rerun to completion, compared
table by table and object by object with the reference. A kill whose point the run never
reached is not counted; episodes go on until `--kills` kills landed. Every
`--spawn-every`-th episode starts a fresh interpreter per run instead of forking the warm one.
At the end the comparison is shown not to be blind: three alterations of a finished hour
must give three differences.

Fuzz: `--fuzz-lines` hostile lines (metering_pipeline_tests/support/hostile.py) in hours of
`--lines-per-hour`, one file per source, through `ingest_hour` with one open client, the files
read as the asset reads them (by the engine unless METERING_INGEST_READER=python); every
non-blank line must end accepted, duplicate or quarantined, each in exactly one place.

Exit status 1 if any diff, crash or unclassified line was found.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from metering_pipeline_tests.support.crash_harness import (  # noqa: E402
    NAMED_POINTS,
    ForkServer,
    Profile,
    Sandbox,
    SpawnRunner,
    crash_episode,
    run_hour,
    write_catalog,
    write_hour,
)
from metering_pipeline_tests.support.hour_snapshot import differences, take_snapshot  # noqa: E402

HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
AWS = {
    "AWS_ACCESS_KEY_ID": "soak",
    "AWS_SECRET_ACCESS_KEY": "soak",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def say(text: str) -> None:
    print(text, flush=True)


def crash_soak(work: Path, kills: int, seed: int, spawn_every: int) -> tuple[int, list[str]]:
    from metering_pipeline_tests.support.s3_server import MotoServer, create_bucket

    rng = random.Random(seed)
    landing = work / "landing"
    landing_bytes = write_hour(landing)
    catalog = str(write_catalog(work / "catalog.yaml"))
    with MotoServer() as moto, ForkServer() as server:
        aws = {**AWS, "AWS_ENDPOINT_URL": moto.url}
        os.environ.update(aws)
        bucket = create_bucket(moto.url, "soak")

        started = time.monotonic()
        local = Sandbox(work / "reference-local", str(landing), str(work / "reference-local" / "export"), catalog)
        clean = run_hour(server, local)
        if clean.status != 0:
            raise SystemExit(f"the clean run failed:\n{clean.log_tail()}")
        reference = take_snapshot(local.clickhouse_url, local.export)
        remote = Sandbox(work / "reference-s3", str(landing), bucket.url("reference/billing"), catalog, extra_env=aws)
        if run_hour(server, remote).status != 0:
            raise SystemExit("the clean S3 run failed")
        twins = differences(reference, take_snapshot(remote.clickhouse_url, remote.export, endpoint=moto.url))
        profile = Profile.of(clean.trace, landing_bytes)
        say(
            f"reference: {reference.summary()}; {profile.statements} ClickHouse statements, {profile.puts} PUTs, "
            f"dbt {profile.dbt_seconds:.1f}s, {time.monotonic() - started:.0f}s for both clean runs"
        )
        say(f"reference: the local and the S3 clean runs are {'identical' if not twins else 'DIFFERENT: ' + '; '.join(twins)}")

        landed, diffs, not_reached, leftovers = [], list(twins), Counter(), Counter()
        points: list[str] = []
        spawn = SpawnRunner()
        episode_no = 0
        while len(landed) < kills:
            episode_no += 1
            if len(points) < 2:
                batch = list(NAMED_POINTS)
                rng.shuffle(batch)
                points += batch
            count = 1 if rng.random() < 0.6 or kills - len(landed) == 1 else 2
            chosen = sorted(points[:count], key=NAMED_POINTS.index)  # two kills: the second one further on
            del points[:count]
            on_s3 = episode_no % 2 == 0
            name = f"episode-{episode_no:03d}"
            export = bucket.url(f"{name}/billing") if on_s3 else str(work / name / "export")
            sandbox = Sandbox(work / name, str(landing), export, catalog, extra_env=aws if on_s3 else {})
            runner = spawn if spawn_every and episode_no % spawn_every == 0 else server
            episode = crash_episode(runner, sandbox, chosen, profile, rng, reference, endpoint=moto.url if on_s3 else None)
            landed += episode.kills
            not_reached.update(episode.not_reached)
            leftovers.update(
                "staging tables" if "._stage_" in item else "dbt temporary tables" if "__dbt_" in item else "export temp files"
                for item in episode.leftovers
            )
            diffs += [f"{name} ({', '.join(p for p, _ in episode.kills)}): {d}" for d in episode.diffs]
            where = "; ".join(f"{point} -> {stage[:90]}" for point, stage in episode.kills) or "no kill landed"
            say(
                f"{name} [{'s3' if on_s3 else 'local'}{', spawn' if runner is spawn else ''}] kills {len(landed)}/{kills}: "
                f"{where}; diffs {len(episode.diffs)}, leftovers {len(episode.leftovers)}, {episode.seconds:.0f}s"
            )
            if not episode.diffs:
                shutil.rmtree(work / name, ignore_errors=True)  # ~10 MB an episode; failing ones stay for a look

        say(f"kill points: {dict(Counter(p for p, _ in landed))}")
        say(f"stages hit: {dict(Counter(s.split(':')[0] for _, s in landed))}")
        if not_reached:
            say(f"plans the run got past before they struck (not counted): {dict(not_reached)}")
        say(f"left behind by killed runs (not results; dropped by age later): {dict(leftovers) or 'nothing'}")
        say(blindness_check(local, reference))
    return len(landed), diffs


def blindness_check(sandbox: Sandbox, reference) -> str:
    """Alter a finished hour (the local clean run's, once everything was compared with its snapshot) three ways;
    the comparison must report all three."""
    from metering_pipeline.resources import ClickHouseResource

    key = sorted(k for k in reference.objects if not k.startswith("_"))[0]
    path = Path(sandbox.export) / key
    body = bytearray(path.read_bytes())
    body[10] ^= 1
    path.write_bytes(bytes(body))
    with ClickHouseResource(url=sandbox.clickhouse_url).get_client() as client:
        client.command("INSERT INTO export_ledger SELECT * FROM export_ledger LIMIT 1")
        client.command("DELETE FROM metering_analytics.usage_daily WHERE tenant_id = 'acme'")
    found = differences(reference, take_snapshot(sandbox.clickhouse_url, sandbox.export))
    seen = sorted(d.split(":")[0] for d in found)
    return (
        f"comparison check: altered one object, doubled one ledger row, deleted a mart row -> "
        f"{len(found)} of 3 differences reported ({', '.join(seen)})"
    )


def fuzz_soak(work: Path, total: int, per_hour: int, seed: int) -> tuple[int, int, int]:
    from metering_pipeline.catalog import load_catalog
    from metering_pipeline.ingest.engine import reading_function
    from metering_pipeline.ingest.hour import ingest_hour
    from metering_pipeline.resources import ClickHouseResource, LandingZone
    from metering_pipeline_tests.support.hostile import FORMATS, classify, random_lines, write_lines

    catalog = load_catalog(write_catalog(work / "fuzz-catalog.yaml"))
    landing = LandingZone(url=str(work / "fuzz-landing"), reader=os.environ.get("METERING_INGEST_READER", "engine"))
    reader = reading_function(landing.reader, landing.on_s3, embedded=True)  # as the Dagster asset picks it
    say(f"fuzz: the landing files are read by {reader}")
    lines = crashes = unclassified = 0
    reasons, placed = Counter(), Counter()
    hours = -(-total // per_hour)
    with ClickHouseResource(url=f"chdb://{work / 'fuzz-ch'}").get_client(purpose="soak fuzz") as client:
        for index in range(hours):
            started = time.monotonic()
            rng = random.Random(f"{seed}-{index}")
            size = min(per_hour, total - lines)
            written = {}
            for position, fmt in enumerate(FORMATS):
                share = size // len(FORMATS) + (1 if position < size % len(FORMATS) else 0)
                batch = random_lines(fmt, rng, share)
                written[write_lines(Path(landing.url), fmt, batch)] = batch
            lines += size
            try:
                report = ingest_hour(client, landing, catalog, HOUR, reader=reader)
            except Exception as exc:  # noqa: BLE001 - a crash is what the soak counts
                crashes += 1
                say(f"fuzz hour {index + 1}/{hours}: CRASH {type(exc).__name__}: {exc}")
                continue
            result = classify(client, report, written)
            unclassified += result.unclassified + (1 if result.problems and not result.unclassified else 0)
            reasons.update(report.quarantined)
            placed.update(accepted=result.accepted, duplicates=result.duplicates, quarantined=result.quarantined, non_blank=result.lines)
            say(
                f"fuzz hour {index + 1}/{hours}: {size} lines ({result.lines} non-blank): {result.accepted} accepted, "
                f"{result.duplicates} duplicates, {result.quarantined} quarantined, {result.unclassified} unclassified"
                f"{' PROBLEMS: ' + '; '.join(result.problems) if result.problems else ''}, {time.monotonic() - started:.1f}s"
            )
    say(f"fuzz totals: {dict(placed)}; quarantine reasons: {dict(reasons.most_common())}")
    return lines, crashes, unclassified


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--fuzz-lines", type=int, default=1_000_000)
    parser.add_argument("--lines-per-hour", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spawn-every", type=int, default=10, help="every N-th episode in a fresh interpreter (0: never)")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp folder, removed)")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="metering-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        kills, diffs = crash_soak(work, args.kills, args.seed, args.spawn_every) if args.kills else (0, [])
        crash_minutes = (time.monotonic() - started) / 60
        lines, crashes, unclassified = fuzz_soak(work, args.fuzz_lines, args.lines_per_hour, args.seed) if args.fuzz_lines else (0, 0, 0)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    for diff in diffs:
        say(f"DIFF {diff}")
    say(f"crash soak {crash_minutes:.1f} min, fuzz soak {(time.monotonic() - started) / 60 - crash_minutes:.1f} min")
    say(f"kills: {kills}, diffs: {len(diffs)}")
    say(f"lines: {lines}, crashes: {crashes}, unclassified: {unclassified}")
    return 1 if diffs or crashes or unclassified else 0


if __name__ == "__main__":
    sys.exit(main())
