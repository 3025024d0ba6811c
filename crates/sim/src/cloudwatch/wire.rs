//! CloudWatch's AWS JSON 1.0 and AWS Query protocols, read into and written
//! from the RPC v2 CBOR shapes the handlers work on.
//!
//! - **AWS JSON 1.0** (<https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html>):
//!   `X-Amz-Target: GraniteServiceVersion20100801.<Op>`, `Content-Type:
//!   application/x-amz-json-1.0`, members by name, timestamps as epoch
//!   seconds (numbers), doubles as numbers with `"NaN"`, `"Infinity"` and
//!   `"-Infinity"` as strings. Errors: `__type` is the error's full shape id
//!   and, CloudWatch being `awsQueryCompatible`, `x-amzn-query-error:
//!   Code;Fault` carries its AWS Query code (see `protocol::render`).
//! - **AWS Query** (<https://smithy.io/2.0/aws/protocols/aws-query-protocol.html>):
//!   a form `Action=<Op>&Version=2010-08-01&...`, nested members joined by
//!   `.`, list elements as `Name.member.N` from 1
//!   (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/making-api-requests.html>),
//!   an empty list as `Name=`, timestamps in ISO 8601; the answer is XML in
//!   `<OpResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><OpResult>`
//!   with `<ResponseMetadata><RequestId>`, lists as `<member>` elements.
//!
//! Names, list members and types are those of botocore's CloudWatch model
//! (`cloudwatch/2010-08-01/service-2.json`), which has no `xmlName` or
//! `xmlFlattened` on the shapes served here.

use std::collections::BTreeMap;

use ciborium::Value;
use serde_json::Value as Json;

use crate::protocol::Protocol;
use crate::server::{ApiError, Reply};
use crate::sts::xml_escape;

/// The CloudWatch service shape's name: the JSON 1.0 target prefix and the
/// RPC v2 CBOR path's service name.
pub(crate) const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// The `Version` of AWS Query requests.
pub(crate) const API_VERSION: &str = "2010-08-01";
/// The XML namespace of AWS Query answers and errors.
pub(crate) const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// Input members (of the operations served) that are timestamps.
const TIMESTAMPS: &[&str] = &["StartTime", "EndTime", "StartDate", "EndDate"];
/// ... integers.
const INTEGERS: &[&str] = &["Period", "MaxDatapoints", "MaxRecords"];
/// ... booleans.
const BOOLEANS: &[&str] = &["ReturnData"];
/// ... lists.
const LISTS: &[&str] = &["MetricDataQueries", "Dimensions", "AlarmNames", "AlarmTypes"];

/// Segments an AWS Query key may have; the deepest the served operations
/// use is `MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name` (9).
const MAX_KEY_SEGMENTS: usize = 16;

/// The `__type` of a JSON 1.0 error: the full shape id of the error in
/// CloudWatch's model whose AWS Query code is `code` (the model's errors
/// name their code, e.g. `InvalidParameterValueException` has `"code":
/// "InvalidParameterValue"`); codes without a shape of their own use the
/// code. An unknown target is Coral's own `UnknownOperationException`, as
/// CloudWatch answers it
/// (<https://repost.aws/questions/QU_K9Ht9jQTuipmIMeNh8N4A/getmetricwidgetimage-not-able-to-retrieve-image>).
pub(crate) fn error_type(code: &str) -> String {
    let shape = match code {
        "UnknownOperationException" => return "com.amazon.coral.service#UnknownOperationException".to_string(),
        "ValidationError" => "ValidationException",
        "InvalidParameterValue" => "InvalidParameterValueException",
        "InvalidParameterCombination" => "InvalidParameterCombinationException",
        "MissingParameter" => "MissingRequiredParameterException",
        "InternalServiceError" => "InternalServiceFault",
        "InvalidFormat" => "InvalidFormatFault",
        "LimitExceeded" => "LimitExceededFault",
        "InvalidParameterInput" => "DashboardInvalidInputError",
        other => other,
    };
    format!("com.amazonaws.cloudwatch#{shape}")
}

// ---------------------------------------------------------------------------
// Requests

fn serialization(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "SerializationException", message)
}

/// A JSON 1.0 request body as the CBOR handlers read it: the same members,
/// timestamps (epoch seconds) as CBOR tag 1. An empty body is `{}`.
pub(crate) fn from_json(body: &[u8]) -> Result<Value, ApiError> {
    let json: Json = if body.is_empty() {
        Json::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| serialization(format!("invalid JSON body: {e}")))?
    };
    let Json::Object(members) = json else {
        return Err(serialization("request body must be a JSON object"));
    };
    let mut out = Vec::with_capacity(members.len());
    for (name, value) in members {
        // Every timestamp of the served inputs is a top-level member.
        let value = if TIMESTAMPS.contains(&name.as_str()) { json_time(&name, value)? } else { json_value(value) };
        out.push((Value::Text(name), value));
    }
    Ok(Value::Map(out))
}

fn json_time(name: &str, value: Json) -> Result<Value, ApiError> {
    let secs = match value {
        Json::Null => return Ok(Value::Null),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i.into()),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        _ => return Err(serialization(format!("{name}: expected a timestamp (epoch seconds)"))),
    };
    Ok(Value::Tag(1, Box::new(secs)))
}

fn json_value(value: Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Integer(i.into()),
            (None, Some(u)) => Value::Integer(u.into()),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Text(s),
        Json::Array(items) => Value::Array(items.into_iter().map(json_value).collect()),
        Json::Object(members) => {
            Value::Map(members.into_iter().map(|(k, v)| (Value::Text(k), json_value(v))).collect())
        }
    }
}

/// The AWS Query common errors
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html>):
/// a query string that is not well-formed...
fn invalid_query(detail: String) -> ApiError {
    ApiError::new(400, "InvalidQueryParameter", format!("The AWS query string is malformed: {detail}"))
}

/// ... and a value of the wrong type.
fn invalid_value(path: &str, value: &str, expected: &str) -> ApiError {
    ApiError::new(400, "InvalidParameterValue", format!("The value {value} for parameter {path} is not {expected}."))
}

/// A form as a tree, before the members get their types.
enum Node {
    Empty,
    Leaf(String),
    Members(Vec<(String, Node)>),
    /// List elements by their 1-based index.
    Items(BTreeMap<u32, Node>),
}

/// AWS Query parameters as the CBOR handlers read them: nested members as
/// maps, `member.N` as lists, each value of the type its member has in the
/// model (timestamps, ISO 8601 on the wire, as CBOR tag 1).
pub(crate) fn from_form(form: &[(String, String)]) -> Result<Value, ApiError> {
    let mut root = Node::Members(Vec::new());
    for (key, value) in form {
        // The operation and API version, and the SigV4 query parameters.
        if matches!(key.as_str(), "Action" | "Operation" | "Version") || key.starts_with("X-Amz-") {
            continue;
        }
        let segments: Vec<&str> = key.split('.').collect();
        if segments.len() > MAX_KEY_SEGMENTS || segments.iter().any(|s| s.is_empty()) {
            return Err(invalid_query(format!("the parameter name {key} is not valid")));
        }
        insert(&mut root, &segments, key, value)?;
    }
    convert("", "", root)
}

fn insert(node: &mut Node, path: &[&str], key: &str, value: &str) -> Result<(), ApiError> {
    let conflict = || invalid_query(format!("the parameter {key} conflicts with another parameter"));
    let Some((first, rest)) = path.split_first() else {
        return match node {
            Node::Empty => {
                *node = Node::Leaf(value.to_string());
                Ok(())
            }
            _ => Err(conflict()),
        };
    };
    // `member.N`: the N-th element of a list.
    if *first == "member" {
        if let Some((n, rest)) = rest.split_first() {
            if let Some(index) = n.parse::<u32>().ok().filter(|i| *i >= 1 && n.bytes().all(|b| b.is_ascii_digit())) {
                if matches!(node, Node::Empty) {
                    *node = Node::Items(BTreeMap::new());
                }
                let Node::Items(items) = node else { return Err(conflict()) };
                return insert(items.entry(index).or_insert(Node::Empty), rest, key, value);
            }
        }
    }
    if matches!(node, Node::Empty) {
        *node = Node::Members(Vec::new());
    }
    let Node::Members(members) = node else { return Err(conflict()) };
    let at = match members.iter().position(|(name, _)| name == first) {
        Some(at) => at,
        None => {
            members.push((first.to_string(), Node::Empty));
            members.len() - 1
        }
    };
    insert(&mut members[at].1, rest, key, value)
}

/// Gives a node of member `name` (at `path`) its type.
fn convert(path: &str, name: &str, node: Node) -> Result<Value, ApiError> {
    let is_list = LISTS.contains(&name);
    let is_scalar = TIMESTAMPS.contains(&name) || INTEGERS.contains(&name) || BOOLEANS.contains(&name);
    match node {
        Node::Empty => Ok(Value::Null),
        Node::Leaf(text) => leaf(path, name, text),
        Node::Items(items) if is_list => items
            .into_iter()
            .map(|(i, item)| convert(&format!("{path}.member.{i}"), "member", item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Items(_) => Err(invalid_query(format!("the parameter {path} is not a list"))),
        Node::Members(_) if is_list || is_scalar => {
            Err(invalid_query(format!("the parameter {path} is not a structure")))
        }
        Node::Members(members) => members
            .into_iter()
            .map(|(member, node)| {
                let path = if path.is_empty() { member.clone() } else { format!("{path}.{member}") };
                Ok((Value::Text(member.clone()), convert(&path, &member, node)?))
            })
            .collect::<Result<Vec<_>, ApiError>>()
            .map(Value::Map),
    }
}

fn leaf(path: &str, name: &str, text: String) -> Result<Value, ApiError> {
    if LISTS.contains(&name) {
        // The protocol sends an empty list as `Name=`.
        return if text.is_empty() {
            Ok(Value::Array(Vec::new()))
        } else {
            Err(invalid_query(format!("the parameter {path} is a list: use {path}.member.1")))
        };
    }
    if TIMESTAMPS.contains(&name) {
        let secs = parse_iso8601(&text).ok_or_else(|| invalid_value(path, &text, "an ISO 8601 timestamp"))?;
        return Ok(Value::Tag(1, Box::new(Value::Integer(secs.into()))));
    }
    if INTEGERS.contains(&name) {
        let n: i64 = text.parse().map_err(|_| invalid_value(path, &text, "an integer"))?;
        return Ok(Value::Integer(n.into()));
    }
    if BOOLEANS.contains(&name) {
        return match text.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid_value(path, &text, "true or false")),
        };
    }
    Ok(Value::Text(text))
}

/// Epoch seconds (floored) of an ISO 8601 date-time: RFC 3339
/// (`2026-11-22T08:00:00Z`, `...00.123Z`, `...00+01:00`), or without a
/// zone, taken as UTC.
fn parse_iso8601(text: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc().timestamp())
}

// ---------------------------------------------------------------------------
// Answers

/// A CBOR answer in the request's protocol: JSON 1.0 bytes, or the AWS
/// Query XML document; anything else is left as it is.
pub(crate) fn to_wire(protocol: Protocol, operation: &str, request_id: &str, reply: Reply) -> Reply {
    match (protocol, reply) {
        (Protocol::Json10, Reply::Cbor(value)) => Reply::Raw {
            content_type: "application/x-amz-json-1.0",
            cbor: false,
            body: to_json(&value).to_string().into_bytes(),
        },
        (Protocol::Query, Reply::Cbor(value)) => Reply::Xml(to_xml(operation, request_id, &value)),
        (_, reply) => reply,
    }
}

fn member_name(key: &Value) -> String {
    match key {
        Value::Text(t) => t.clone(),
        other => format!("{other:?}"),
    }
}

/// Non-finite doubles as the JSON and Query protocols spell them.
fn non_finite(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// The JSON 1.0 form of a CBOR answer: timestamps as epoch seconds.
pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => {
            let i = i128::from(*i);
            i64::try_from(i)
                .map(Json::from)
                .or_else(|_| u64::try_from(i).map(Json::from))
                .unwrap_or(Json::from(i as f64))
        }
        Value::Float(f) if f.is_finite() => Json::from(*f),
        Value::Float(f) => Json::String(non_finite(*f).to_string()),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        // Tag 1 (epoch seconds) is the JSON timestamp as it is.
        Value::Tag(_, inner) => to_json(inner),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(members) => Json::Object(members.iter().map(|(k, v)| (member_name(k), to_json(v))).collect()),
        _ => Json::Null,
    }
}

/// The AWS Query XML document of a CBOR answer to `operation`.
pub(crate) fn to_xml(operation: &str, request_id: &str, value: &Value) -> String {
    let mut out = format!("<{operation}Response xmlns=\"{XMLNS}\">\n  <{operation}Result>");
    if let Value::Map(members) = value {
        for (k, v) in members {
            element(&mut out, &member_name(k), v);
        }
    }
    out.push_str(&format!(
        "</{operation}Result>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{operation}Response>\n",
        xml_escape(request_id)
    ));
    out
}

fn element(out: &mut String, name: &str, value: &Value) {
    if value.is_null() {
        return;
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    content(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn content(out: &mut String, value: &Value) {
    match value {
        Value::Map(members) => members.iter().for_each(|(k, v)| element(out, &member_name(k), v)),
        Value::Array(items) => items.iter().for_each(|item| element(out, "member", item)),
        Value::Text(s) => out.push_str(&xml_escape(s)),
        Value::Bytes(b) => out.push_str(&xml_escape(&String::from_utf8_lossy(b))),
        Value::Integer(i) => out.push_str(&i128::from(*i).to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
        Value::Float(f) => out.push_str(non_finite(*f)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Tag(1, inner) => out.push_str(&iso8601(inner)),
        Value::Tag(_, inner) => content(out, inner),
        _ => {}
    }
}

/// An epoch-seconds timestamp as ISO 8601 in UTC, the Query protocol's
/// default `date-time` format.
fn iso8601(secs: &Value) -> String {
    let t = match secs {
        Value::Integer(i) => i64::try_from(i128::from(*i)).ok().and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
        Value::Float(f) if f.is_finite() => {
            let s = f.floor();
            chrono::DateTime::from_timestamp(s as i64, ((f - s) * 1e9) as u32)
        }
        _ => None,
    };
    match t {
        Some(t) if t.timestamp_subsec_nanos() == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_query_form_reads_as_the_cbor_shape() {
        let input = from_form(&form(&[
            ("Action", "GetMetricData"),
            ("Version", "2010-08-01"),
            ("MetricDataQueries.member.1.Id", "m1"),
            ("MetricDataQueries.member.1.MetricStat.Metric.Namespace", "AWS/ApplicationELB"),
            ("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.2.Name", "B"),
            ("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name", "A"),
            ("MetricDataQueries.member.1.MetricStat.Period", "60"),
            ("MetricDataQueries.member.1.ReturnData", "true"),
            ("StartTime", "2026-11-22T08:00:00Z"),
            ("EndTime", "2026-11-22T09:00:00.500Z"),
            ("AlarmNames", ""),
        ]))
        .expect("valid form");
        let json = to_json(&input);
        let q = &json["MetricDataQueries"][0];
        assert_eq!(q["Id"], "m1");
        assert_eq!(q["ReturnData"], true);
        assert_eq!(q["MetricStat"]["Period"], 60);
        assert_eq!(q["MetricStat"]["Metric"]["Dimensions"][0]["Name"], "A", "ordered by index");
        assert_eq!(json["StartTime"], 1_795_334_400);
        assert_eq!(json["EndTime"], 1_795_338_000);
        assert_eq!(json["AlarmNames"], serde_json::json!([]));
        assert!(!json.as_object().is_some_and(|o| o.contains_key("Action")));
    }

    #[test]
    fn bad_query_forms_are_refused() {
        let code = |pairs: &[(&str, &str)]| from_form(&form(pairs)).err().map(|e| e.code);
        assert_eq!(code(&[("MaxRecords", "ten")]), Some("InvalidParameterValue"));
        assert_eq!(code(&[("StartTime", "yesterday")]), Some("InvalidParameterValue"));
        assert_eq!(code(&[("Period", "60"), ("Period.x", "1")]), Some("InvalidQueryParameter"));
        assert_eq!(code(&[("AlarmNames", "a")]), Some("InvalidQueryParameter"));
        assert_eq!(code(&[("a..b", "1")]), Some("InvalidQueryParameter"));
        assert_eq!(code(&[(&"x.".repeat(40), "1")]), Some("InvalidQueryParameter"));
    }

    #[test]
    fn json_timestamps_become_tag_1_and_answers_go_back_out() {
        let input = from_json(br#"{"StartTime": 1795334400, "EndTime": 1795338000.5, "MaxRecords": 5}"#).expect("ok");
        let Value::Map(m) = &input else { panic!("map") };
        let member = |name: &str| m.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v.clone());
        assert_eq!(member("StartTime"), Some(Value::Tag(1, Box::new(Value::Integer(1_795_334_400.into())))));
        assert_eq!(member("EndTime"), Some(Value::Tag(1, Box::new(Value::Float(1_795_338_000.5)))));
        assert_eq!(member("MaxRecords"), Some(Value::Integer(5.into())));
        assert!(from_json(br#"{"StartTime": "today"}"#).is_err());
        assert!(from_json(b"[1]").is_err());

        let answer = Value::Map(vec![
            (Value::Text("Timestamps".into()), Value::Array(vec![Value::Tag(1, Box::new(Value::Integer(60.into())))])),
            (Value::Text("Values".into()), Value::Array(vec![Value::Float(1.5), Value::Float(f64::NAN)])),
            (Value::Text("Label".into()), Value::Text("a<b".into())),
        ]);
        assert_eq!(to_json(&answer), serde_json::json!({"Timestamps": [60], "Values": [1.5, "NaN"], "Label": "a<b"}));
        let xml = to_xml("GetMetricData", "rid", &answer);
        assert!(xml.contains("<GetMetricDataResult><Timestamps><member>1970-01-01T00:01:00Z</member></Timestamps><Values><member>1.5</member><member>NaN</member></Values><Label>a&lt;b</Label></GetMetricDataResult>"), "{xml}");
        assert!(xml.contains("<RequestId>rid</RequestId>"));
        assert_eq!(error_type("InvalidParameterValue"), "com.amazonaws.cloudwatch#InvalidParameterValueException");
        assert_eq!(error_type("Throttling"), "com.amazonaws.cloudwatch#Throttling");
    }
}
