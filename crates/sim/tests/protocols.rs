//! CloudWatch in its three protocols on the wire, byte by byte: RPC v2 CBOR
//! (the Rust SDK's), AWS JSON 1.0 (boto3's default) and AWS Query give the
//! same answers, the same errors, and meet the same knobs and counts.

use std::io::{Read, Write};
use std::net::TcpStream;

use ciborium::Value as Cbor;
use fleetdeck_sim::{Faults, Malformed, MalformedKind, SimFleet, SimKnobs, SimOptions};
use serde_json::Value as Json;

/// The fleet, on a runtime of its own: the requests below are plain
/// blocking HTTP/1.1 from the test thread.
struct Sim {
    fleet: SimFleet,
    _runtime: tokio::runtime::Runtime,
}

fn sim() -> Sim {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let fleet = runtime.block_on(SimFleet::start(SimOptions::default())).expect("sim starts");
    // A frozen clock: every protocol is asked at the same instant.
    fleet.set_knobs(SimKnobs { clock: Some(fleet.options().now), ..SimKnobs::default() });
    Sim { fleet, _runtime: runtime }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Who signs: an access key, its session token, and the signing scope.
struct Signer<'a> {
    key: &'a str,
    token: Option<&'a str>,
    region: &'a str,
}

const BASE: Signer<'static> = Signer { key: SimFleet::ACCESS_KEY_ID, token: None, region: "us-east-1" };

fn post(sim: &Sim, signer: &Signer<'_>, service: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let addr = sim.fleet.endpoint().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\nauthorization: AWS4-HMAC-SHA256 Credential={}/20261206/{}/{service}/aws4_request, SignedHeaders=host, Signature=00\r\n",
        body.len(),
        signer.key,
        signer.region,
    );
    if let Some(token) = signer.token {
        head.push_str(&format!("x-amz-security-token: {token}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer { status, headers, body: response[split + 4..].to_vec() }
}

fn json10(sim: &Sim, signer: &Signer<'_>, op: &str, body: &Json) -> Answer {
    let target = format!("GraniteServiceVersion20100801.{op}");
    let headers = [("x-amz-target", target.as_str()), ("content-type", "application/x-amz-json-1.0")];
    post(sim, signer, "monitoring", "/", &headers, body.to_string().as_bytes())
}

fn query(sim: &Sim, signer: &Signer<'_>, service: &str, params: &[(&str, &str)]) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    post(sim, signer, service, "/", &[("content-type", "application/x-www-form-urlencoded")], body.as_bytes())
}

fn cbor(sim: &Sim, signer: &Signer<'_>, op: &str, body: &Cbor) -> Answer {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(body, &mut bytes).expect("encode");
    let path = format!("/service/GraniteServiceVersion20100801/operation/{op}");
    let headers = [("smithy-protocol", "rpc-v2-cbor"), ("content-type", "application/cbor")];
    post(sim, signer, "monitoring", &path, &headers, &bytes)
}

/// The texts of `<name>` elements, in order (the XML here is the
/// simulator's own: no attributes, no CDATA).
fn elements(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}

/// The `<member>` texts inside the first `<name>` element.
fn members(xml: &str, name: &str) -> Vec<String> {
    elements(xml, name).first().map(|inner| elements(inner, "member")).unwrap_or_default()
}

#[test]
fn cbor_json_and_query_answer_getmetricdata_alike() {
    let sim = sim();
    let globex = sim.fleet.tenants().iter().find(|t| t.id == "globex").expect("globex").clone();
    let role = format!("arn:aws:iam::{}:role/FleetdeckReadOnly", globex.account);
    let ext = globex.external_id.clone().unwrap_or_default();
    let assumed = query(
        &sim,
        &Signer { region: "us-east-1", ..BASE },
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &role),
            ("RoleSessionName", "wire"),
            ("ExternalId", &ext),
        ],
    );
    assert_eq!(assumed.status, 200, "{}", assumed.text());
    let xml = assumed.text();
    let (key, token) = (elements(&xml, "AccessKeyId")[0].clone(), elements(&xml, "SessionToken")[0].clone());
    let me = Signer { key: &key, token: Some(&token), region: globex.home_region };

    let now = sim.fleet.options().now;
    let end = now - now.rem_euclid(60);
    let start = end - 3600;
    let dims: Vec<Json> = globex.dimensions.iter().map(|(n, v)| serde_json::json!({"Name": n, "Value": v})).collect();
    let (ns, metric) = ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count");

    // AWS JSON 1.0: timestamps as epoch seconds.
    let json = json10(
        &sim,
        &me,
        "GetMetricData",
        &serde_json::json!({
            "MetricDataQueries": [{"Id": "e", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": metric, "Dimensions": dims}, "Period": 60, "Stat": "Sum"}}],
            "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending",
        }),
    );
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(json.header("content-type"), Some("application/x-amz-json-1.0"));
    let result = &json.json()["MetricDataResults"][0];
    let json_points: Vec<(i64, f64)> = result["Timestamps"]
        .as_array()
        .expect("timestamps")
        .iter()
        .zip(result["Values"].as_array().expect("values"))
        .map(|(t, v)| (t.as_i64().expect("epoch seconds"), v.as_f64().expect("a number")))
        .collect();
    assert_eq!(json_points.len(), 60, "an hour of minutes");

    // AWS Query: ISO 8601, lists as member.N.
    let [start_iso, end_iso] = [start, end]
        .map(|t| chrono::DateTime::from_timestamp(t, 0).expect("time").format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let mut params = vec![
        ("Action", "GetMetricData".to_string()),
        ("Version", "2010-08-01".to_string()),
        ("MetricDataQueries.member.1.Id", "e".to_string()),
        ("MetricDataQueries.member.1.MetricStat.Metric.Namespace", ns.to_string()),
        ("MetricDataQueries.member.1.MetricStat.Metric.MetricName", metric.to_string()),
        ("MetricDataQueries.member.1.MetricStat.Period", "60".to_string()),
        ("MetricDataQueries.member.1.MetricStat.Stat", "Sum".to_string()),
        ("StartTime", start_iso),
        ("EndTime", end_iso),
        ("ScanBy", "TimestampAscending".to_string()),
    ];
    let dim_keys: Vec<(String, String, String, String)> = globex
        .dimensions
        .iter()
        .enumerate()
        .map(|(i, (n, v))| {
            let k = format!("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.{}", i + 1);
            (format!("{k}.Name"), n.clone(), format!("{k}.Value"), v.clone())
        })
        .collect();
    let mut pairs: Vec<(&str, &str)> = params.iter_mut().map(|(k, v)| (*k, v.as_str())).collect();
    for (kn, n, kv, v) in &dim_keys {
        pairs.push((kn, n));
        pairs.push((kv, v));
    }
    let xml = query(&sim, &me, "monitoring", &pairs);
    assert_eq!(xml.status, 200, "{}", xml.text());
    let text = xml.text();
    assert!(text.starts_with("<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"));
    let query_points: Vec<(i64, f64)> = members(&text, "Timestamps")
        .iter()
        .zip(members(&text, "Values"))
        .map(|(t, v)| {
            let t = chrono::DateTime::parse_from_rfc3339(t).expect("ISO 8601").timestamp();
            (t, v.parse().expect("a double"))
        })
        .collect();
    assert_eq!(query_points, json_points, "AWS Query answers what JSON 1.0 answered");

    // RPC v2 CBOR, as before.
    let text_v = |s: &str| Cbor::Text(s.to_string());
    let cbor_dims = Cbor::Array(
        globex
            .dimensions
            .iter()
            .map(|(n, v)| Cbor::Map(vec![(text_v("Name"), text_v(n)), (text_v("Value"), text_v(v))]))
            .collect(),
    );
    let metric_v = Cbor::Map(vec![
        (text_v("Namespace"), text_v(ns)),
        (text_v("MetricName"), text_v(metric)),
        (text_v("Dimensions"), cbor_dims),
    ]);
    let stat = Cbor::Map(vec![
        (text_v("Metric"), metric_v),
        (text_v("Period"), Cbor::Integer(60.into())),
        (text_v("Stat"), text_v("Sum")),
    ]);
    let ts = |t: i64| Cbor::Tag(1, Box::new(Cbor::Integer(t.into())));
    let answer = cbor(
        &sim,
        &me,
        "GetMetricData",
        &Cbor::Map(vec![
            (
                text_v("MetricDataQueries"),
                Cbor::Array(vec![Cbor::Map(vec![(text_v("Id"), text_v("e")), (text_v("MetricStat"), stat)])]),
            ),
            (text_v("StartTime"), ts(start)),
            (text_v("EndTime"), ts(end)),
            (text_v("ScanBy"), text_v("TimestampAscending")),
        ]),
    );
    assert_eq!(answer.status, 200);
    let value: Cbor = ciborium::de::from_reader(&answer.body[..]).expect("CBOR");
    let as_json: Json = serde_json::to_value(&value).expect("CBOR as JSON");
    let result = &as_json["MetricDataResults"][0];
    assert_eq!(result["Values"].as_array().map(Vec::len), Some(json_points.len()));
    let cbor_values: Vec<f64> = result["Values"].as_array().into_iter().flatten().filter_map(Json::as_f64).collect();
    assert_eq!(cbor_values, json_points.iter().map(|(_, v)| *v).collect::<Vec<_>>(), "CBOR answers the same");

    // Alarms, both text protocols.
    let alarms = json10(&sim, &me, "DescribeAlarms", &serde_json::json!({"StateValue": "ALARM"})).json();
    assert_eq!(alarms["MetricAlarms"][0]["AlarmName"], "globex-5xx-errors-critical");
    assert!(alarms["MetricAlarms"][0]["StateUpdatedTimestamp"].is_number(), "epoch seconds");
    let xml = query(
        &sim,
        &me,
        "monitoring",
        &[("Action", "DescribeAlarms"), ("Version", "2010-08-01"), ("StateValue", "ALARM")],
    )
    .text();
    assert_eq!(elements(&xml, "AlarmName"), vec!["globex-5xx-errors-critical".to_string()]);
    assert_eq!(elements(&xml, "Threshold"), vec!["50.0".to_string()]);

    // Counted alike: three GetMetricData calls, whatever the protocol.
    let counts = sim.fleet.requests();
    let gmd = counts
        .iter()
        .find(|c| c.account == globex.account && c.action == "GetMetricData")
        .expect("GetMetricData counted");
    assert_eq!((gmd.count, gmd.iam_action.as_str()), (3, "cloudwatch:GetMetricData"));
}

#[test]
fn errors_and_knobs_meet_every_protocol() {
    let sim = sim();
    let now = sim.fleet.options().now;
    let knobs = |k: SimKnobs| sim.fleet.set_knobs(SimKnobs { clock: Some(now), ..k });
    let describe_json = || json10(&sim, &BASE, "DescribeAlarms", &serde_json::json!({}));
    let describe_query =
        || query(&sim, &BASE, "monitoring", &[("Action", "DescribeAlarms"), ("Version", "2010-08-01")]);

    // Validation, in each protocol's error shape with the AWS Query code.
    let bad = json10(
        &sim,
        &BASE,
        "GetMetricData",
        &serde_json::json!({"MetricDataQueries": [{"Id": "Bad-Id"}], "StartTime": now - 3600, "EndTime": now}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("x-amzn-query-error"), Some("ValidationError;Sender"));
    assert_eq!(bad.json()["__type"], "com.amazonaws.cloudwatch#ValidationException");
    let bad = query(
        &sim,
        &BASE,
        "monitoring",
        &[
            ("Action", "GetMetricData"),
            ("MetricDataQueries.member.1.Id", "Bad-Id"),
            ("StartTime", "2026-01-01T00:00:00Z"),
            ("EndTime", "2026-01-01T01:00:00Z"),
        ],
    );
    assert_eq!(bad.status, 400);
    let text = bad.text();
    assert!(text.starts_with("<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"), "{text}");
    assert_eq!(elements(&text, "Code"), vec!["ValidationError".to_string()]);
    assert_eq!(elements(&text, "Type"), vec!["Sender".to_string()]);
    let unknown = json10(&sim, &BASE, "PutMetricData", &serde_json::json!({}));
    assert_eq!(unknown.json()["__type"], "com.amazon.coral.service#UnknownOperationException");
    let unknown = query(&sim, &BASE, "monitoring", &[("Action", "PutMetricData"), ("Version", "2010-08-01")]);
    assert_eq!(elements(&unknown.text(), "Code"), vec!["InvalidAction".to_string()]);

    // A denied action.
    knobs(SimKnobs {
        deny_actions: vec![(SimFleet::PAYER_ACCOUNT.to_string(), "cloudwatch:DescribeAlarms".to_string())],
        ..SimKnobs::default()
    });
    let denied = describe_json();
    assert_eq!((denied.status, denied.header("x-amzn-query-error")), (403, Some("AccessDenied;Sender")));
    assert!(denied.json()["message"].as_str().unwrap_or_default().contains("cloudwatch:DescribeAlarms"));
    let denied = describe_query();
    assert_eq!((denied.status, elements(&denied.text(), "Code")), (403, vec!["AccessDenied".to_string()]));

    // Injected throttling, counted as faults.
    knobs(SimKnobs { faults: Faults { throttle: 1.0, ..Faults::default() }, ..SimKnobs::default() });
    let before = sim.fleet.faults_injected();
    assert_eq!(describe_json().header("x-amzn-query-error"), Some("Throttling;Sender"));
    assert_eq!(elements(&describe_query().text(), "Code"), vec!["Throttling".to_string()]);
    assert_eq!(sim.fleet.faults_injected(), before + 2);

    // The real quota: DescribeAlarms 9 a second per account-region.
    knobs(SimKnobs::aws_quotas());
    let throttled = (0..30).filter(|i| {
        let answer = if i % 2 == 0 { describe_json() } else { describe_query() };
        answer.status == 400
    });
    assert!(throttled.count() >= 1);
    assert!(sim.fleet.rate_limited() >= 1);

    // A garbled answer is garbled in the request's protocol.
    knobs(SimKnobs {
        malformed: Some(Malformed {
            account: None,
            action: Some("DescribeAlarms".into()),
            kind: MalformedKind::Truncated,
        }),
        ..SimKnobs::default()
    });
    let cut = describe_json();
    assert_eq!((cut.status, cut.header("content-type")), (200, Some("application/x-amz-json-1.0")));
    assert!(serde_json::from_slice::<Json>(&cut.body).is_err(), "{}", cut.text());
    let cut = describe_query().text();
    assert!(cut.starts_with("<DescribeAlarmsResponse") && !cut.contains("</DescribeAlarmsResponse>"), "{cut}");
}
