"""Ingest from an S3 landing zone (moto server over HTTP): gzip objects, and more than 1,000 in one hour.

S3 returns at most 1,000 keys per ListObjectsV2 page, so an hour with more objects than
that is only complete if the listing follows continuation tokens.
"""

import gzip
import json
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource, LandingZone
from metering_pipeline_tests.support.events import KEY, event, materialization_metadata, query
from metering_pipeline_tests.support.s3_server import REGION

OBJECTS = 1_005
ROOT = "landing/raw"


def put_all(bucket, objects: dict[str, bytes]) -> None:
    client = bucket.client()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: client.put_object(Bucket=bucket.bucket, Key=item[0], Body=item[1]), objects.items()))


@pytest.mark.slow  # ~1,000 files through ingest: ~35 ms of chDB statements per file
def test_ingest_lists_every_page_of_an_hour_of_gzip_objects(clickhouse, s3):
    hour = f"{ROOT}/events/2026/11/22/10"
    objects = {
        f"{hour}/proxy-{i:05d}.ndjson.gz": gzip.compress((json.dumps(event(f"e{i}", subject=f"tenant-{i % 7}")) + "\n").encode(), mtime=0)
        for i in range(OBJECTS)
    }
    objects[f"{hour}/proxy-dup.ndjson.gz"] = gzip.compress((json.dumps(event("e0", subject="tenant-0")) + "\n").encode())
    objects[f"{hour}/plain.ndjson"] = (json.dumps(event("plain")) + "\n").encode()
    objects[f"{hour}/nested/deeper.ndjson"] = (json.dumps(event("nested")) + "\n").encode()  # not this hour's folder
    objects[f"{hour}/notes.txt"] = b"not a landing file\n"
    objects[f"{ROOT}/events/2026/11/22/11/next-hour.ndjson"] = (json.dumps(event("later")) + "\n").encode()
    put_all(s3, objects)

    result = dg.materialize(
        [ingest],
        partition_key=KEY,
        resources={"clickhouse": clickhouse, "landing": LandingZone(url=s3.url(ROOT), region=REGION), "catalog": CatalogResource()},
    )
    meta = materialization_metadata(result, "accepted_events")
    assert meta["files"] == OBJECTS + 2  # every gzip object past the first 1,000, the duplicate and the plain file
    assert meta["lines_read"] == OBJECTS + 2 and meta["accepted"] == OBJECTS + 1 and meta["duplicates"] == 1
    assert query(clickhouse, "SELECT count(), uniqExact(id) FROM events") == [(OBJECTS + 1, OBJECTS + 1)]
    assert query(clickhouse, "SELECT count() FROM events WHERE id IN ('nested', 'later')") == [(0,)]
    assert dict(query(clickhouse, "SELECT tenant_id, count() FROM events WHERE id != 'plain' GROUP BY tenant_id")) == {
        f"tenant-{t}": len(range(t, OBJECTS, 7)) for t in range(7)
    }
