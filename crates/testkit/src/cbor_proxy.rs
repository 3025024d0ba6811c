//! A translating, recording, fault-injecting proxy between the Rust SDK and
//! moto.
//!
//! - **Translating.** Today's aws-sdk-cloudwatch speaks Smithy RPC v2 CBOR,
//!   which moto does not; this turns those requests into CloudWatch's AWS
//!   JSON 1.0 protocol and the JSON answers back into CBOR. The
//!   Authorization header is kept, so moto still sees the caller's account.
//!   Every other request (STS, Logs, Cost Explorer, Organizations) passes
//!   through untouched.
//! - **Recording.** Every request it forwards (or refuses) becomes a
//!   [`Record`]: service, action, the account and region it acts in, who
//!   signed it, and its parameters as JSON (for STS AssumeRole: RoleArn,
//!   RoleSessionName, ExternalId, Policy).
//! - **Fault-injecting.** [`Proxy::deny`] refuses an (account, action) with
//!   the protocol's own access-denied error, worded as AWS words it.
//!
//! It changes encodings and may refuse requests; it never invents data.

use std::collections::{BTreeMap, HashMap};
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

/// The account moto gives any key it did not issue through AssumeRole.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// One request the proxy saw, as the test reads it.
#[derive(Debug, Clone)]
pub struct Record {
    /// The SigV4 signing name: `sts`, `monitoring`, `logs`, `ce`, `organizations`.
    pub service: String,
    /// The operation: `GetMetricData`, `AssumeRole`, ...
    pub action: String,
    /// The account the call acts in, as moto sees it: an assumed role's keys
    /// belong to the role's account, any other key to [`DEFAULT_ACCOUNT`].
    pub account: String,
    /// From the SigV4 credential scope.
    pub region: String,
    pub access_key: String,
    /// The long-term key at the root of the AssumeRole chain that signed
    /// this: tells the test's own seeding apart from fleetdeck's calls.
    pub origin: String,
    /// The RoleSessionName of the assumed role that signed it, if any.
    pub session: Option<String>,
    /// Request parameters as JSON: CBOR and JSON bodies decoded, STS form
    /// fields as an object of strings.
    pub params: Json,
    /// The HTTP status the caller got back.
    pub status: u16,
    /// The proxy refused it (see [`Proxy::deny`]).
    pub denied: bool,
}

impl Record {
    /// `service:Action` as signed, e.g. `monitoring:GetMetricData`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    /// The IAM action, e.g. `cloudwatch:GetMetricData` (CloudWatch signs as
    /// `monitoring` but its IAM prefix is `cloudwatch`).
    pub fn iam_action(&self) -> String {
        let prefix = if self.service == "monitoring" { "cloudwatch" } else { self.service.as_str() };
        format!("{prefix}:{}", self.action)
    }

    /// A string parameter (STS form fields, JSON members).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Json::as_str)
    }

    /// For AssumeRole, the account of the role being assumed.
    pub fn role_account(&self) -> Option<&str> {
        self.param("RoleArn").and_then(|arn| arn.split(':').nth(4))
    }
}

/// Runs before each forwarded request while set (see [`Proxy::before_forward`]).
pub type Stage = Box<dyn Fn(&Record) + Send + Sync>;

/// Who signed with an access key, learned from AssumeRole answers.
#[derive(Debug, Clone)]
struct Principal {
    account: String,
    role_arn: Option<String>,
    session: Option<String>,
    origin: String,
}

struct State {
    upstream: String,
    actions: Arc<Mutex<Vec<String>>>,
    records: Mutex<Vec<Record>>,
    keys: Mutex<HashMap<String, Principal>>,
    denials: Mutex<Vec<(String, String)>>,
    stage: Mutex<Option<Stage>>,
    /// Held across a stage and the request it prepares, so staged state and
    /// the request that uses it are never interleaved with another's.
    staged: Mutex<()>,
}

pub struct Proxy {
    pub url: String,
    /// `service:Action` of every request, in order (kept for tests/moto.rs).
    pub actions: Arc<Mutex<Vec<String>>>,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Proxy {
    /// Every request seen so far, in the order their answers went back.
    pub fn records(&self) -> Vec<Record> {
        self.state.records.lock().unwrap().clone()
    }

    /// Refuse `iam_action` (e.g. `cloudwatch:GetMetricData`, `logs:StartQuery`,
    /// `sts:AssumeRole`) in `account` with the protocol's access-denied error.
    /// For `sts:AssumeRole` the account is the one the role is in: the
    /// tenant's role is missing or does not trust the caller.
    pub fn deny(&self, account: &str, iam_action: &str) {
        self.state.denials.lock().unwrap().push((account.to_string(), iam_action.to_string()));
    }

    /// Run `stage` just before each request is forwarded to moto, one request
    /// at a time: lets a test put into moto (through moto's own API) what the
    /// request about to arrive should find, e.g. a queued Cost Explorer page.
    pub fn before_forward(&self, stage: Stage) {
        *self.state.stage.lock().unwrap() = Some(stage);
    }
}

pub async fn start(upstream: &str) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let actions = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(State {
        upstream: upstream.to_string(),
        actions: actions.clone(),
        records: Mutex::default(),
        keys: Mutex::default(),
        denials: Mutex::default(),
        stage: Mutex::default(),
        staged: Mutex::default(),
    });
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let shared = state.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                conn = listener.accept() => match conn { Ok(c) => c, Err(_) => continue },
                _ = &mut rx => break,
            };
            let state = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Proxy { url: format!("http://{addr}"), actions, state, shutdown: Some(tx) }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path().to_string();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "transfer-encoding" | "connection"))
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let method = parts.method.clone();
    let result = tokio::task::spawn_blocking(move || serve(&state, &method, &path, &headers, &body))
        .await
        .unwrap_or_else(|e| (500, vec![], format!("proxy task failed: {e}").into_bytes()));
    let (status, headers, body) = result;
    let mut resp = Response::builder().status(status);
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    Ok(resp.body(Full::new(Bytes::from(body))).expect("response"))
}

/// What the request is, as far as the wire says.
enum Wire {
    Cbor(String),
    Json(String),
    Query(String),
}

fn serve(state: &State, method: &hyper::Method, path: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (wire, params) = if let Some(op) = path.strip_prefix(PREFIX) {
        let params = if body.is_empty() {
            Json::Object(Default::default())
        } else {
            match ciborium::from_reader::<Cbor, _>(body) {
                Ok(v) => cbor_to_json(v),
                Err(e) => return (400, vec![], format!("proxy: bad CBOR: {e}").into_bytes()),
            }
        };
        (Wire::Cbor(op.to_string()), params)
    } else if let Some(target) = header("x-amz-target") {
        let op = target.rsplit('.').next().unwrap_or(target).to_string();
        (Wire::Json(op), serde_json::from_slice(body).unwrap_or(Json::Null))
    } else {
        let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let op = form.get("Action").cloned().unwrap_or_else(|| "unknown".into());
        (Wire::Query(op), serde_json::to_value(form).unwrap_or(Json::Null))
    };
    let action = match &wire {
        Wire::Cbor(op) | Wire::Json(op) | Wire::Query(op) => op.clone(),
    };

    // Credential=<key>/<date>/<region>/<service>/aws4_request
    let scope: Vec<String> = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .map(|c| c.split('/').map(str::to_string).collect())
        .unwrap_or_default();
    let access_key = scope.first().cloned().unwrap_or_default();
    let region = scope.get(2).cloned().unwrap_or_default();
    let service = scope.get(3).cloned().unwrap_or_else(|| match &wire {
        Wire::Cbor(_) => "monitoring".into(),
        Wire::Query(_) => "sts".into(),
        Wire::Json(_) => "unknown".into(),
    });
    let principal = state.keys.lock().unwrap().get(&access_key).cloned().unwrap_or_else(|| Principal {
        account: DEFAULT_ACCOUNT.into(),
        role_arn: None,
        session: None,
        origin: access_key.clone(),
    });
    let mut record = Record {
        service,
        action,
        account: principal.account.clone(),
        region,
        access_key: access_key.clone(),
        origin: principal.origin.clone(),
        session: principal.session.clone(),
        params,
        status: 0,
        denied: false,
    };

    let answer = if let Some(message) = denial(state, &record, &principal) {
        record.denied = true;
        access_denied(&wire, &message)
    } else {
        let _one_at_a_time;
        {
            let stage = state.stage.lock().unwrap();
            if let Some(stage) = stage.as_ref() {
                _one_at_a_time = state.staged.lock().unwrap_or_else(|e| e.into_inner());
                stage(&record);
            }
        }
        match &wire {
            Wire::Cbor(op) => cloudwatch(&state.upstream, op, headers, &record.params),
            _ if method != hyper::Method::POST => (405, vec![], b"proxy: only POST".to_vec()),
            _ => passthrough(&state.upstream, path, headers, body),
        }
    };
    record.status = answer.0;

    if record.action == "AssumeRole" && (200..300).contains(&answer.0) {
        let text = String::from_utf8_lossy(&answer.2);
        if let Some(key) = between(&text, "<AccessKeyId>", "</AccessKeyId>") {
            let role_arn = record.param("RoleArn").unwrap_or_default().to_string();
            state.keys.lock().unwrap().insert(
                key.trim().to_string(),
                Principal {
                    account: record.role_account().unwrap_or(DEFAULT_ACCOUNT).to_string(),
                    role_arn: Some(role_arn),
                    session: record.param("RoleSessionName").map(str::to_string),
                    origin: principal.origin.clone(),
                },
            );
        }
    }
    state.actions.lock().unwrap().push(record.name());
    state.records.lock().unwrap().push(record);
    answer
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// If the request is denied, AWS's message for it.
fn denial(state: &State, record: &Record, principal: &Principal) -> Option<String> {
    let action = record.iam_action();
    let account = if record.action == "AssumeRole" { record.role_account()? } else { record.account.as_str() };
    let denied = state.denials.lock().unwrap().iter().any(|(a, act)| a == account && *act == action);
    if !denied {
        return None;
    }
    let user = match (&principal.role_arn, &principal.session) {
        (Some(arn), Some(session)) => {
            let role = arn.rsplit('/').next().unwrap_or(arn);
            format!("arn:aws:sts::{}:assumed-role/{role}/{session}", principal.account)
        }
        _ => format!("arn:aws:iam::{}:user/moto", principal.account),
    };
    let (region, acct) = (&record.region, &record.account);
    // Actions with no resource type (GetMetricData) are reported by AWS
    // without the "on resource" part.
    let resource = match record.service.as_str() {
        "sts" => record.param("RoleArn").map(str::to_string),
        "logs" => Some(match record.params.get("logGroupNames").and_then(|g| g.get(0)).and_then(Json::as_str) {
            Some(group) => format!("arn:aws:logs:{region}:{acct}:log-group:{group}:*"),
            None => format!("arn:aws:logs:{region}:{acct}:log-group::log-stream:"),
        }),
        "ce" => Some(format!("arn:aws:ce:us-east-1:{acct}:/{}", record.action)),
        "monitoring" if record.action == "DescribeAlarms" => {
            Some(format!("arn:aws:cloudwatch:{region}:{acct}:alarm:*"))
        }
        _ => None,
    };
    let on = resource.map(|r| format!(" on resource: {r}")).unwrap_or_default();
    // A refused AssumeRole is the role's trust policy (or a missing role):
    // AWS then names no identity-based policy.
    let because = if record.action == "AssumeRole" {
        String::new()
    } else {
        format!(" because no identity-based policy allows the {action} action")
    };
    Some(format!("User: {user} is not authorized to perform: {action}{on}{because}"))
}

/// The access-denied error each protocol returns.
fn access_denied(wire: &Wire, message: &str) -> Answer {
    match wire {
        Wire::Cbor(_) => {
            let body = serde_json::json!({"__type": "AccessDenied", "message": message});
            let mut out = Vec::new();
            ciborium::into_writer(&json_to_cbor(body, None), &mut out).expect("encode CBOR");
            (
                403,
                vec![
                    ("smithy-protocol".into(), "rpc-v2-cbor".into()),
                    ("content-type".into(), "application/cbor".into()),
                    ("x-amzn-query-error".into(), "AccessDenied;Sender".into()),
                ],
                out,
            )
        }
        Wire::Json(_) => (
            400,
            vec![("content-type".into(), "application/x-amz-json-1.1".into())],
            serde_json::json!({"__type": "AccessDeniedException", "message": message}).to_string().into_bytes(),
        ),
        Wire::Query(_) => {
            let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            (
                403,
                vec![("content-type".into(), "text/xml".into())],
                format!(
                    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                     <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escaped}</Message></Error>\
                     <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
                )
                .into_bytes(),
            )
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn passthrough(upstream: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let url = format!("{upstream}{path}");
    let mut req = agent().post(&url);
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

fn cloudwatch(upstream: &str, op: &str, headers: &[(String, String)], json: &Json) -> Answer {
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
