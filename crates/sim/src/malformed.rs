//! Answers garbled on purpose ([`super::Malformed`]): what a buggy proxy, a
//! cut connection or a service bug could hand fleetdeck instead of a
//! well-formed answer. Each [`MalformedKind`] turns a successful [`Reply`]
//! into another one; the HTTP status stays 200, as it would.

use ciborium::Value as Cbor;
use serde_json::Value as Json;

use super::server::Reply;
use super::{cloudwatch, MalformedKind};

/// Size of the `@message` a [`MalformedKind::HugeLogLine`] answer carries.
pub(crate) const HUGE_LINE_BYTES: usize = 10 << 20;

/// Put into a string of the answer, then swapped for [`NOT_UTF8`] in the
/// encoded bytes: the same length, so CBOR's length prefixes stay right.
const MARKER: &[u8; 12] = b"@@NON-UTF8@@";
const NOT_UTF8: &[u8; 12] = b"\xff\xfe\xfd not \xc3\x28\x80\xc0";

/// `to_wire` turns a CBOR answer into the request's protocol (CloudWatch's
/// JSON 1.0 and AWS Query, `cloudwatch::wire::to_wire`): the value is
/// garbled first, the bytes after.
pub(crate) fn garble(kind: MalformedKind, reply: Reply, to_wire: &dyn Fn(Reply) -> Reply) -> Reply {
    match kind {
        MalformedKind::Truncated => {
            let (content_type, cbor, body) = encode(to_wire(reply));
            let keep = body.len() / 2;
            Reply::Raw { content_type, cbor, body: body[..keep].to_vec() }
        }
        MalformedKind::NonUtf8 => {
            let marker = std::str::from_utf8(MARKER).unwrap_or_default();
            let marked = match reply {
                Reply::Json(mut v) => {
                    mark_json(&mut v, marker);
                    Reply::Json(v)
                }
                Reply::Cbor(mut v) => {
                    mark_cbor(&mut v, marker);
                    Reply::Cbor(v)
                }
                Reply::Xml(x) => Reply::Xml(x.replacen("<RequestId>", &format!("<RequestId>{marker}"), 1)),
                raw => raw,
            };
            let (content_type, cbor, mut body) = encode(to_wire(marked));
            match body.windows(MARKER.len()).position(|w| w == MARKER) {
                Some(at) => body[at..at + MARKER.len()].copy_from_slice(NOT_UTF8),
                None => body.extend_from_slice(NOT_UTF8),
            }
            Reply::Raw { content_type, cbor, body }
        }
        MalformedKind::WrongTypes => match reply {
            Reply::Json(Json::Object(mut members)) => {
                for v in members.values_mut() {
                    *v = match v {
                        Json::Array(_) => Json::String("not a list".into()),
                        Json::String(_) => Json::from(42),
                        Json::Number(_) => Json::String("forty-two".into()),
                        Json::Object(_) => Json::Array(Vec::new()),
                        Json::Bool(_) => Json::String("yes".into()),
                        Json::Null => Json::Null,
                    };
                }
                Reply::Json(Json::Object(members))
            }
            Reply::Cbor(Cbor::Map(entries)) => Reply::Cbor(Cbor::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let wrong = match v {
                            Cbor::Array(_) => Cbor::Text("not a list".into()),
                            Cbor::Text(_) => Cbor::Integer(42.into()),
                            Cbor::Map(_) => Cbor::Array(Vec::new()),
                            _ => Cbor::Text("forty-two".into()),
                        };
                        (k, wrong)
                    })
                    .collect(),
            )),
            Reply::Xml(x) => Reply::Xml(replace_element(&x, "Expiration", "not a date")),
            other => other,
        },
        MalformedKind::NonFinite => match reply {
            Reply::Cbor(mut v) => {
                non_finite_cbor(&mut v, &mut 0);
                Reply::Cbor(v)
            }
            Reply::Json(mut v) => {
                non_finite_json(&mut v, &mut 0);
                Reply::Json(v)
            }
            other => other,
        },
        MalformedKind::Unordered => match reply {
            Reply::Cbor(mut v) => {
                unorder_cbor(&mut v);
                Reply::Cbor(v)
            }
            Reply::Json(Json::Object(mut members)) => {
                for v in members.values_mut() {
                    if let Json::Array(a) = v {
                        a.reverse();
                    }
                }
                Reply::Json(Json::Object(members))
            }
            other => other,
        },
        MalformedKind::HugeLogLine => match reply {
            Reply::Json(mut v) => {
                if let Some(Json::Array(rows)) = v.get_mut("results") {
                    let huge = format!("ERROR {}", "x".repeat(HUGE_LINE_BYTES));
                    match rows.first_mut().and_then(Json::as_array_mut) {
                        Some(fields) => match fields.iter_mut().find(|f| f["field"] == "@message") {
                            Some(f) => f["value"] = Json::String(huge),
                            None => fields.push(serde_json::json!({ "field": "@message", "value": huge })),
                        },
                        None => rows.push(serde_json::json!([{ "field": "@message", "value": huge }])),
                    }
                }
                Reply::Json(v)
            }
            other => other,
        },
    }
}

/// (content type, is CBOR, body) of a reply, encoded as `render` would.
fn encode(reply: Reply) -> (&'static str, bool, Vec<u8>) {
    match reply {
        Reply::Xml(x) => ("text/xml", false, x.into_bytes()),
        Reply::Cbor(v) => ("application/cbor", true, cloudwatch::encode(&v)),
        Reply::Json(v) => ("application/x-amz-json-1.1", false, v.to_string().into_bytes()),
        Reply::Raw { content_type, cbor, body } => (content_type, cbor, body),
    }
}

/// Prefixes the first string value (not a key), depth first, with `marker`.
fn mark_json(v: &mut Json, marker: &str) -> bool {
    match v {
        Json::String(s) => {
            s.insert_str(0, marker);
            true
        }
        Json::Array(a) => a.iter_mut().any(|x| mark_json(x, marker)),
        Json::Object(o) => o.values_mut().any(|x| mark_json(x, marker)),
        _ => false,
    }
}

fn mark_cbor(v: &mut Cbor, marker: &str) -> bool {
    match v {
        Cbor::Text(s) => {
            s.insert_str(0, marker);
            true
        }
        Cbor::Array(a) => a.iter_mut().any(|x| mark_cbor(x, marker)),
        Cbor::Map(m) => m.iter_mut().any(|(_, x)| mark_cbor(x, marker)),
        Cbor::Tag(_, inner) => mark_cbor(inner, marker),
        _ => false,
    }
}

/// Of every four doubles, three become NaN, +Inf and -Inf.
fn non_finite_cbor(v: &mut Cbor, n: &mut u64) {
    match v {
        Cbor::Float(f) => {
            *f = match *n % 4 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                _ => *f,
            };
            *n += 1;
        }
        Cbor::Array(a) => a.iter_mut().for_each(|x| non_finite_cbor(x, n)),
        Cbor::Map(m) => m.iter_mut().for_each(|(_, x)| non_finite_cbor(x, n)),
        _ => {}
    }
}

/// Cost Explorer's amounts are decimal strings: three of every four become
/// the spellings of NaN and infinity a parser may accept.
fn non_finite_json(v: &mut Json, n: &mut u64) {
    match v {
        Json::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "Amount" && x.is_string() {
                    if let Some(s) = ["NaN", "Infinity", "-Infinity"].get((*n % 4) as usize) {
                        *x = Json::String(s.to_string());
                    }
                    *n += 1;
                } else {
                    non_finite_json(x, n);
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(|x| non_finite_json(x, n)),
        _ => {}
    }
}

/// Every result's datapoints reversed, each timestamp (with its value) twice.
fn unorder_cbor(v: &mut Cbor) {
    match v {
        Cbor::Map(m) => {
            let has = |m: &Vec<(Cbor, Cbor)>, name: &str| {
                m.iter().any(|(k, v)| matches!(k, Cbor::Text(t) if t == name) && matches!(v, Cbor::Array(_)))
            };
            if has(m, "Timestamps") && has(m, "Values") {
                for (k, v) in m.iter_mut() {
                    if let (Cbor::Text(name), Cbor::Array(items)) = (k, v) {
                        if name == "Timestamps" || name == "Values" {
                            let doubled: Vec<Cbor> = items.iter().rev().chain(items.iter()).cloned().collect();
                            *items = doubled;
                        }
                    }
                }
            } else {
                m.iter_mut().for_each(|(_, x)| unorder_cbor(x));
            }
        }
        Cbor::Array(a) => a.iter_mut().for_each(unorder_cbor),
        _ => {}
    }
}

/// `<name>text</name>` with the text replaced (first occurrence).
fn replace_element(xml: &str, name: &str, text: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    match (xml.find(&open), xml.find(&close)) {
        (Some(a), Some(b)) if a < b => format!("{}{open}{text}{}", &xml[..a], &xml[b..]),
        _ => xml.to_string(),
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn a_non_utf8_answer_keeps_its_length_and_is_not_utf8() {
        let reply = Reply::Json(serde_json::json!({ "status": "Complete", "results": [] }));
        let Reply::Raw { body, .. } = garble(MalformedKind::NonUtf8, reply, &|r| r) else { panic!("raw") };
        assert!(std::str::from_utf8(&body).is_err());
        let Reply::Raw { body, cbor: true, .. } = garble(
            MalformedKind::NonUtf8,
            Reply::Cbor(Cbor::Map(vec![(Cbor::Text("Id".into()), Cbor::Text("q0".into()))])),
            &|r| r,
        ) else {
            panic!("raw cbor")
        };
        // The CBOR framing is intact, only the text is not UTF-8.
        assert_eq!(
            body.len(),
            cloudwatch::encode(&Cbor::Map(vec![(Cbor::Text("Id".into()), Cbor::Text("@@NON-UTF8@@q0".into()))])).len()
        );
        assert!(std::str::from_utf8(&body).is_err());
    }

    #[test]
    fn non_finite_and_unordered_datapoints() {
        let series = || {
            Cbor::Map(vec![
                (Cbor::Text("Timestamps".into()), Cbor::Array(vec![Cbor::Integer(1.into()), Cbor::Integer(2.into())])),
                (Cbor::Text("Values".into()), Cbor::Array(vec![Cbor::Float(1.0), Cbor::Float(2.0)])),
            ])
        };
        let Reply::Cbor(Cbor::Map(m)) = garble(MalformedKind::NonFinite, Reply::Cbor(series()), &|r| r) else {
            panic!()
        };
        let Cbor::Array(values) = &m[1].1 else { panic!() };
        assert!(matches!(values[0], Cbor::Float(f) if f.is_nan()));
        assert!(matches!(values[1], Cbor::Float(f) if f == f64::INFINITY));
        let Reply::Cbor(Cbor::Map(m)) = garble(MalformedKind::Unordered, Reply::Cbor(series()), &|r| r) else {
            panic!()
        };
        assert_eq!(m[0].1, Cbor::Array([2, 1, 1, 2].map(|i| Cbor::Integer(i.into())).to_vec()));
    }
}
