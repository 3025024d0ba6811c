//! A translating proxy between the Rust SDK and moto. Today's
//! aws-sdk-cloudwatch speaks Smithy RPC v2 CBOR, which moto does not; this
//! turns those requests into CloudWatch's AWS JSON 1.0 protocol and the JSON
//! answers back into CBOR. It changes encodings, never answers: the
//! Authorization header is kept, so moto still sees the caller's account.
//! Every other request (STS, Logs, Cost Explorer) passes through untouched.
//! It also records every (service, action) it forwards.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ciborium::Value as Cbor;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value as Json;

const PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
/// CloudWatch fields that are timestamps (CBOR tag 1) or doubles.
const TIMESTAMPS: &[&str] = &[
    "Timestamps",
    "StateUpdatedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "Timestamp",
    "StartTime",
    "EndTime",
];
const DOUBLES: &[&str] = &["Values", "Threshold", "Value", "Sum", "Minimum", "Maximum", "SampleCount", "Average"];

pub struct Proxy {
    pub url: String,
    pub actions: Arc<Mutex<Vec<String>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn start(upstream: &str) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let upstream = upstream.to_string();
    let actions = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let recorded = actions.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                conn = listener.accept() => match conn { Ok(c) => c, Err(_) => continue },
                _ = &mut rx => break,
            };
            let upstream = upstream.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, upstream.clone(), recorded.clone()));
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Proxy { url: format!("http://{addr}"), actions, shutdown: Some(tx) }
}

async fn handle(
    req: Request<Incoming>,
    upstream: String,
    recorded: Arc<Mutex<Vec<String>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path().to_string();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "transfer-encoding" | "connection"))
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let result = tokio::task::spawn_blocking(move || {
        if let Some(op) = path.strip_prefix(PREFIX) {
            recorded.lock().unwrap().push(format!("monitoring:{op}"));
            cloudwatch(&upstream, op, &headers, &body)
        } else {
            recorded.lock().unwrap().push(describe(&headers, &body));
            passthrough(&upstream, &parts.method, &path, &headers, &body)
        }
    })
    .await
    .unwrap_or_else(|e| (500, vec![], format!("proxy task failed: {e}").into_bytes()));
    let (status, headers, body) = result;
    let mut resp = Response::builder().status(status);
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    Ok(resp.body(Full::new(Bytes::from(body))).expect("response"))
}

/// Name a passthrough request by its X-Amz-Target or Query Action.
fn describe(headers: &[(String, String)], body: &[u8]) -> String {
    if let Some((_, t)) = headers.iter().find(|(k, _)| k == "x-amz-target") {
        return t.clone();
    }
    let text = String::from_utf8_lossy(body);
    form_urlencoded::parse(text.as_bytes())
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| format!("sts:{v}"))
        .unwrap_or_else(|| "unknown".into())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn passthrough(
    upstream: &str,
    method: &hyper::Method,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Answer {
    let url = format!("{upstream}{path}");
    let mut req = agent().post(&url);
    if method != hyper::Method::POST {
        return (405, vec![], b"proxy: only POST".to_vec());
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    match req.send(body) {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let hs = r
                .headers()
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "content-type" | "x-amzn-requestid" | "x-amzn-query-error"))
                .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                .collect();
            (status, hs, r.body_mut().read_to_vec().unwrap_or_default())
        }
        Err(e) => (502, vec![], format!("proxy: {e}").into_bytes()),
    }
}

fn cloudwatch(upstream: &str, op: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let json = if body.is_empty() {
        Json::Object(Default::default())
    } else {
        match ciborium::from_reader::<Cbor, _>(body) {
            Ok(v) => cbor_to_json(v),
            Err(e) => return (400, vec![], format!("proxy: bad CBOR: {e}").into_bytes()),
        }
    };
    let mut req = agent()
        .post(upstream)
        .header("x-amz-target", &format!("GraniteServiceVersion20100801.{op}"))
        .header("content-type", "application/x-amz-json-1.0");
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| k == "authorization" || k.starts_with("x-amz-date") || k == "x-amz-security-token")
    {
        req = req.header(k, v);
    }
    let (status, text) = match req.send(json.to_string().as_bytes()) {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_vec().unwrap_or_default()),
        Err(e) => return (502, vec![], format!("proxy: {e}").into_bytes()),
    };
    let answer: Json = serde_json::from_slice(&text).unwrap_or_else(
        |_| serde_json::json!({"__type": "InternalFailure", "message": String::from_utf8_lossy(&text)}),
    );
    let mut out = Vec::new();
    ciborium::into_writer(&json_to_cbor(answer, None), &mut out).expect("encode CBOR");
    (
        status,
        vec![("smithy-protocol".into(), "rpc-v2-cbor".into()), ("content-type".into(), "application/cbor".into())],
        out,
    )
}

fn cbor_to_json(v: Cbor) -> Json {
    match v {
        Cbor::Integer(i) => Json::from(i128::from(i) as i64),
        Cbor::Float(f) => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
        Cbor::Text(s) => Json::String(s),
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Null => Json::Null,
        Cbor::Tag(_, inner) => cbor_to_json(*inner), // tag 1: epoch seconds, as JSON 1.0 wants
        Cbor::Array(a) => Json::Array(a.into_iter().map(cbor_to_json).collect()),
        Cbor::Map(m) => Json::Object(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k, cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

/// JSON 1.0 -> CBOR, typing numbers by the field they belong to.
fn json_to_cbor(v: Json, field: Option<&str>) -> Cbor {
    match v {
        Json::Number(n) => {
            if field.is_some_and(|f| TIMESTAMPS.contains(&f)) {
                Cbor::Tag(1, Box::new(Cbor::Float(n.as_f64().unwrap_or(0.0))))
            } else if field.is_some_and(|f| DOUBLES.contains(&f)) || n.as_i64().is_none() {
                Cbor::Float(n.as_f64().unwrap_or(0.0))
            } else {
                Cbor::Integer(n.as_i64().unwrap_or(0).into())
            }
        }
        Json::String(s) => {
            // moto writes some timestamps as ISO strings.
            if field.is_some_and(|f| TIMESTAMPS.contains(&f)) {
                if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s) {
                    return Cbor::Tag(1, Box::new(Cbor::Float(t.timestamp_millis() as f64 / 1000.0)));
                }
            }
            Cbor::Text(s)
        }
        Json::Bool(b) => Cbor::Bool(b),
        Json::Null => Cbor::Null,
        Json::Array(a) => Cbor::Array(a.into_iter().map(|x| json_to_cbor(x, field)).collect()),
        Json::Object(o) => Cbor::Map(
            o.into_iter()
                .map(|(k, v)| {
                    let c = json_to_cbor(v, Some(&k));
                    (Cbor::Text(k), c)
                })
                .collect(),
        ),
    }
}
