"""CloudWatch and STS calls through boto3 against `fleetdeck-sim`.

Run by tests/boto3.rs with the venv's python. The environment carries what
the simulator printed: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION and FLEETDECK_FLEET (the fleet file).

boto3 speaks CloudWatch in its default protocol, AWS JSON 1.0 (botocore
prefers "json" among the model's protocols), and once more in AWS Query, by
loading a copy of botocore's own CloudWatch model whose metadata names only
"query". STS is AWS Query.

Prints one JSON line of figures; exits non-zero on any failed check.
"""

import copy
import datetime
import json
import math
import os
import pathlib
import sys
import tempfile
import tomllib

import boto3
import botocore.config
import botocore.session
from botocore.exceptions import ClientError

TENANT = "globex"
ERRORS = ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count")


def check(condition, message):
    if not condition:
        print(f"check failed: {message}", file=sys.stderr)
        sys.exit(1)


ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
BASE_REGION = os.environ["AWS_REGION"]
CONFIG = botocore.config.Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}
)


def client(service, region, creds, session=None):
    return (session or boto3.Session()).client(
        service,
        region_name=region,
        endpoint_url=ENDPOINT,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=CONFIG,
    )


def query_protocol_session():
    """A botocore session whose CloudWatch model speaks only AWS Query."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = copy.deepcopy(loader.load_service_model("cloudwatch", "service-2"))
    model["metadata"]["protocol"] = "query"
    model["metadata"]["protocols"] = ["query"]
    data = tempfile.mkdtemp(prefix="fleetdeck-boto3-")
    path = pathlib.Path(data, "cloudwatch", model["metadata"]["apiVersion"])
    path.mkdir(parents=True)
    (path / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, data)
    return boto3.Session(botocore_session=session)


def error_of(call):
    try:
        call()
    except ClientError as e:
        error = e.response["Error"]
        return {
            "code": error.get("Code"),
            "type": error.get("Type"),
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            "exception": type(e).__name__,
        }
    check(False, "the call was expected to fail")


def main():
    with open(os.environ["FLEETDECK_FLEET"], "rb") as f:
        fleet = tomllib.load(f)
    tenant = next(t for t in fleet["tenant"] if t["id"] == TENANT)
    base = {
        "AccessKeyId": os.environ["AWS_ACCESS_KEY_ID"],
        "SecretAccessKey": os.environ["AWS_SECRET_ACCESS_KEY"],
    }

    # STS, AWS Query: who we are, then the tenant's read-only role.
    sts = client("sts", BASE_REGION, base)
    check(sts.meta.service_model.resolved_protocol == "query", "STS speaks AWS Query")
    caller = sts.get_caller_identity()
    role_arn = tenant.get("role_arn") or f"arn:aws:iam::{tenant['account']}:role/{fleet['fleet']['role_name']}"
    extra = {"ExternalId": tenant["external_id"]} if "external_id" in tenant else {}
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="boto3-test", **extra)["Credentials"]
    check(
        client("sts", BASE_REGION, creds).get_caller_identity()["Account"] == tenant["account"],
        "the session lands in the tenant's account",
    )

    region = tenant["home_region"]
    cw = client("cloudwatch", region, creds)
    check(cw.meta.service_model.resolved_protocol == "json", "boto3's default for CloudWatch is JSON 1.0")

    # A fixed, minute-aligned window that has ended: the same answer
    # whenever it is asked.
    end = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    start = end - datetime.timedelta(hours=1)
    dims = [{"Name": k, "Value": v} for k, v in tenant["selector"]["dimensions"].items()]
    query = {
        "Id": "errors",
        "MetricStat": {
            "Metric": {"Namespace": ERRORS[0], "MetricName": ERRORS[1], "Dimensions": dims},
            "Period": 60,
            "Stat": "Sum",
        },
    }
    window = {"StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}

    def series(answer):
        results = [r for r in answer["MetricDataResults"] if r["Id"] == "errors"]
        return [(ts.timestamp(), v) for r in results for ts, v in zip(r["Timestamps"], r["Values"])]

    one = cw.get_metric_data(MetricDataQueries=[query], **window)
    points = series(one)
    check(len(points) >= 50, f"an hour of one-minute datapoints, got {len(points)}")
    check(all(math.isfinite(v) and v >= 0 for _, v in points), "finite error counts")
    times = [t for t, _ in points]
    check(times == sorted(times) and len(set(times)) == len(times), "ascending, distinct timestamps")
    check(all(start.timestamp() <= t < end.timestamp() and t % 60 == 0 for t in times), "aligned, in the window")
    check(one["MetricDataResults"][0]["StatusCode"] == "Complete", "complete")

    # The same through the paginator, 25 datapoints a page.
    pages = list(
        cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[query], PaginationConfig={"PageSize": 25}, **window
        )
    )
    paged = [p for page in pages for p in series(page)]
    check(paged == points, "pages add up to the one-shot answer")

    alarms = cw.describe_alarms()["MetricAlarms"]
    names = sorted(a["AlarmName"] for a in alarms)
    in_alarm = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")
    check(f"{TENANT}-5xx-errors-critical" in in_alarm, f"the demo's 5xx incident is in ALARM: {in_alarm}")
    errors_alarm = next(a for a in alarms if a["MetricName"] == ERRORS[1])
    check(errors_alarm["Threshold"] == 50.0 and errors_alarm["Dimensions"] == dims, "the alarm's threshold, dims")
    alarm_pages = list(cw.get_paginator("describe_alarms").paginate(PaginationConfig={"PageSize": 1}))
    check(
        sorted(a["AlarmName"] for p in alarm_pages for a in p["MetricAlarms"]) == names,
        "one alarm a page, the same alarms",
    )
    history = cw.describe_alarm_history(AlarmName=f"{TENANT}-5xx-errors-critical", HistoryItemType="StateUpdate")
    check(
        history["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from OK to ALARM",
        "the latest transition went into ALARM",
    )

    bad_query = dict(query, Id="Bad-Id")
    json_error = error_of(lambda: cw.get_metric_data(MetricDataQueries=[bad_query], **window))
    check(json_error["code"] == "ValidationError", f"the query-compatible code: {json_error}")
    check(json_error["exception"] == "ValidationException", f"the modeled exception: {json_error}")
    period_error = error_of(
        lambda: cw.get_metric_data(
            MetricDataQueries=[dict(query, MetricStat=dict(query["MetricStat"], Period=7))], **window
        )
    )
    check(period_error["code"] == "InvalidParameterValue", f"a bad period: {period_error}")

    # CloudWatch once more, in AWS Query.
    qcw = client("cloudwatch", region, creds, session=query_protocol_session())
    check(qcw.meta.service_model.resolved_protocol == "query", "the copied model speaks AWS Query")
    query_points = series(qcw.get_metric_data(MetricDataQueries=[query], **window))
    check(query_points == points, "AWS Query answers what JSON 1.0 answered")
    query_alarms = qcw.describe_alarms()["MetricAlarms"]
    check(
        sorted((a["AlarmName"], a["StateValue"], a["Threshold"]) for a in query_alarms)
        == sorted((a["AlarmName"], a["StateValue"], a["Threshold"]) for a in alarms),
        "the same alarms in AWS Query",
    )
    query_error = error_of(lambda: qcw.get_metric_data(MetricDataQueries=[bad_query], **window))
    check(query_error == json_error, f"the same error in AWS Query: {query_error} vs {json_error}")

    print(
        json.dumps(
            {
                "caller_account": caller["Account"],
                "tenant_account": tenant["account"],
                "region": region,
                "datapoints": len(points),
                "pages": len(pages),
                "paged_datapoints": len(paged),
                "alarms": names,
                "in_alarm": in_alarm,
                "alarm_pages": len(alarm_pages),
                "error": json_error,
                "period_error": period_error["code"],
                "query_datapoints": len(query_points),
                "query_alarms": len(query_alarms),
                "query_error": query_error["code"],
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
