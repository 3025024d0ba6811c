//! The simulator's HTTP front: accepts connections, routes each request to
//! its service and protocol (`protocol::route`), establishes who is calling
//! from the SigV4 `Authorization` header, counts every request, applies the
//! knobs (injected faults, latency, rate limits, denied actions) and the
//! caller's session policy, then hands the call to the service module and
//! renders its answer or error in the request's wire protocol
//! (`protocol::render`).
//!
//! Signatures are parsed, never verified: the simulator cares about *who*
//! (access key, signing region), the real SDK takes care of *how*.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::cloudwatch::wire::to_wire;
use super::fleet::{Fleet, PAYER_ACCOUNT};
use super::protocol::{
    access_denied, auth_error, render, route, server_error, throttled, unknown_operation, unrecognized_client,
    AuthFailure, Protocol, Route, Service,
};
use super::series::{mix, unit};
use super::sts::{glob, Policy, Sessions};
use super::{
    cloudwatch, cost, logs, malformed, organizations, sts, AssumeRoleRequest, RequestCount, SimFleet, SimKnobs,
    MAX_CLOCK_SKEW_SECS,
};

/// AssumeRole requests remembered at most; the oldest are forgotten.
const MAX_ASSUME_ROLE_RECORDS: usize = 50_000;

/// Largest request body accepted (a 500-query GetMetricData is ~100 KB).
const MAX_BODY: usize = 8 << 20;

/// Epoch seconds now.
pub(crate) fn wall_clock() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Locks a mutex, recovering from poisoning: every critical section here
/// leaves the data consistent, so a panicked holder is no reason to stop.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Requests of one (account, region, action).
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: u64,
    faulted: u64,
}

/// Everything the server shares between connections.
pub(crate) struct State {
    pub fleet: Fleet,
    /// Behind an `Arc` so a request takes a snapshot for the price of a
    /// reference count, however long the knobs' lists are.
    knobs: RwLock<Arc<SimKnobs>>,
    /// (account, region, operation, IAM action) -> requests.
    counts: Mutex<HashMap<(String, String, String, String), Tally>>,
    assume_roles: Mutex<std::collections::VecDeque<AssumeRoleRequest>>,
    pub sessions: Mutex<Sessions>,
    pub queries: Mutex<logs::Queries>,
    pub signins: Mutex<crate::signin::SignIns>,
    buckets: Mutex<HashMap<(String, String, String), Bucket>>,
    seq: AtomicU64,
    /// Requests drawn for faults since the knobs were last set.
    fault_seq: AtomicU64,
    faults: AtomicU64,
    /// Requests refused because they exceeded a rate limit (quota throttling).
    pub(crate) rate_limited: AtomicU64,
    /// Cost Explorer: how many groups each period of a query has, so a
    /// later page skips the periods before it without grouping them again
    /// (a paged read of a big fleet would otherwise cost the square of its
    /// pages). Keyed by (query fingerprint, period's first and last day).
    pub(crate) cost_groups: Mutex<HashMap<(u64, i64, i64), usize>>,
}

impl State {
    pub(crate) fn new(fleet: Fleet) -> State {
        State {
            fleet,
            knobs: RwLock::new(Arc::new(SimKnobs::default())),
            counts: Mutex::new(HashMap::new()),
            assume_roles: Mutex::new(std::collections::VecDeque::new()),
            sessions: Mutex::new(Sessions::default()),
            queries: Mutex::new(logs::Queries::default()),
            signins: Mutex::new(crate::signin::SignIns::default()),
            buckets: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            fault_seq: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            cost_groups: Mutex::new(HashMap::new()),
        }
    }

    /// The simulator's notion of "now": the wall clock unless frozen.
    pub(crate) fn now(&self) -> i64 {
        self.knobs().clock.unwrap_or_else(wall_clock)
    }

    pub(crate) fn knobs(&self) -> Arc<SimKnobs> {
        self.knobs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_knobs(&self, knobs: SimKnobs) {
        *self.knobs.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(knobs);
        lock(&self.buckets).clear();
        self.fault_seq.store(0, Ordering::Relaxed);
    }

    pub(crate) fn faults_injected(&self) -> u64 {
        self.faults.load(Ordering::Relaxed)
    }

    /// Draws the fate of the next request from the seed and its position
    /// since the knobs were set: a pure function, so a sequential client
    /// meets the same faults on every run.
    fn draw_fault(&self, knobs: &SimKnobs) -> Option<Fault> {
        let f = &knobs.faults;
        if f.throttle <= 0.0 && f.server_error <= 0.0 && f.reset <= 0.0 {
            return None;
        }
        let n = self.fault_seq.fetch_add(1, Ordering::Relaxed);
        let h = mix(&[self.fleet.options.seed, n, 0xfa17]);
        let u = unit(h);
        let share = |x: f64| if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 };
        let reset = share(f.reset);
        let server_error = reset + share(f.server_error);
        let throttle = server_error + share(f.throttle);
        if u < reset {
            Some(Fault::Reset)
        } else if u < server_error {
            Some(if h & 1 == 0 { Fault::InternalError } else { Fault::Unavailable })
        } else if u < throttle {
            Some(Fault::Throttle)
        } else {
            None
        }
    }

    /// A fresh id, UUID-shaped like AWS request and query ids; unique per
    /// server and reproducible for a given seed and request order.
    pub(crate) fn uuid(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        crate::fleet::uuid_like(mix(&[self.fleet.options.seed, n, 1]))
    }

    fn count(&self, account: &str, region: &str, action: &str, iam_action: &str, faulted: bool) {
        let mut counts = lock(&self.counts);
        let key = (account.to_string(), region.to_string(), action.to_string(), iam_action.to_string());
        let tally = counts.entry(key).or_default();
        tally.count += 1;
        if faulted {
            tally.faulted += 1;
            self.faults.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn request_counts(&self) -> Vec<RequestCount> {
        let mut out: Vec<RequestCount> = lock(&self.counts)
            .iter()
            .map(|((account, region, action, iam_action), tally)| RequestCount {
                account: account.clone(),
                region: region.clone(),
                action: action.clone(),
                count: tally.count,
                faulted: tally.faulted,
                iam_action: iam_action.clone(),
            })
            .collect();
        out.sort();
        out
    }

    pub(crate) fn record_assume_role(&self, request: AssumeRoleRequest) {
        let mut records = lock(&self.assume_roles);
        while records.len() >= MAX_ASSUME_ROLE_RECORDS {
            records.pop_front();
        }
        records.push_back(request);
    }

    pub(crate) fn assume_role_requests(&self) -> Vec<AssumeRoleRequest> {
        lock(&self.assume_roles).iter().cloned().collect()
    }

    /// Token bucket per (account, region, action): `true` when the call may
    /// proceed.
    fn admit(&self, knobs: &SimKnobs, account: &str, region: &str, action: &str) -> bool {
        let Some(rate) = knobs.rate_limits.iter().find(|(a, _)| a == action).map(|(_, r)| *r).filter(|r| *r > 0.0)
        else {
            return true;
        };
        let mut buckets = lock(&self.buckets);
        let now = Instant::now();
        let bucket = buckets
            .entry((account.to_string(), region.to_string(), action.to_string()))
            .or_insert(Bucket { tokens: rate.max(1.0), at: now });
        let capacity = rate.max(1.0);
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// An injected failure ([`super::Faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttle,
    InternalError,
    Unavailable,
    Reset,
}

/// Returned by the service to make hyper drop the connection without
/// writing a response: the client sees the connection close mid-request.
#[derive(Debug)]
struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by a fault knob")
    }
}

impl std::error::Error for ConnectionReset {}

/// Binds the listener (on `addr`, or a free loopback port) and spawns the
/// accept loop.
pub(crate) async fn spawn(
    state: Arc<State>,
    addr: Option<SocketAddr>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = match addr {
        Some(addr) => TcpListener::bind(addr).await?,
        None => TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?,
    };
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // Connections live in this set so that aborting the loop (on drop of
        // the SimFleet) closes them all.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        let state = state.clone();
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                let state = state.clone();
                                async move { handle(&state, req).await }
                            });
                            if let Err(e) = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                            {
                                tracing::debug!("sim connection ended: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // instead of spinning.
                        tracing::warn!("sim accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok((addr, task))
}

/// An AWS error as the service would send it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Further members of the JSON error body (Organizations' `Reason`,
    /// `Type`); the other protocols have nowhere to put them.
    pub fields: Vec<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), fields: Vec::new() }
    }

    pub(crate) fn with(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.fields.push((name, value.into()));
        self
    }
}

/// A successful answer, before encoding.
pub(crate) enum Reply {
    Xml(String),
    Cbor(ciborium::Value),
    Json(serde_json::Value),
    /// Bytes sent as they are: an answer already encoded (CloudWatch's
    /// JSON 1.0) or garbled on purpose ([`super::Malformed`]); `cbor` adds
    /// the RPC v2 CBOR protocol header.
    Raw {
        content_type: &'static str,
        cbor: bool,
        body: Vec<u8>,
    },
}

/// The authenticated principal of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub account: String,
    pub arn: String,
    pub user_id: String,
    pub policy: Option<Arc<Policy>>,
}

/// What a service handler gets to work with.
pub(crate) struct Call<'a> {
    pub state: &'a State,
    pub caller: Caller,
    /// SigV4 signing region: where the request was sent.
    pub region: String,
    /// The simulator clock when the request arrived.
    pub now: i64,
    pub request_id: String,
    pub protocol: Protocol,
}

async fn handle(state: &State, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, ConnectionReset> {
    let request_id = state.uuid();
    let (parts, body) = req.into_parts();
    if parts.uri.path() == "/federation" {
        // The console sign-in endpoint: not an AWS API, no signature.
        let (status, content_type, text, location) = crate::signin::handle(state, parts.uri.query().unwrap_or(""));
        let mut builder = Response::builder().status(status).header("content-type", content_type);
        if let Some(to) = location {
            builder = builder.header("location", to);
        }
        return Ok(builder.body(Full::new(Bytes::from(text))).unwrap_or_default());
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = header("authorization").map(str::to_string);
    let security_token = header("x-amz-security-token").map(str::to_string);
    let signed_at = header("x-amz-date").and_then(parse_amz_date);
    let signing = authorization.as_deref().and_then(parse_authorization);

    // Which service, protocol and operation: see `protocol::route`.
    let Route { protocol, service, mut operation } = route(
        parts.uri.path(),
        header("x-amz-target"),
        header("smithy-protocol"),
        signing.as_ref().map(|s| s.service.as_str()),
    );
    // restJson1 binds every OAM operation served to POST (botocore's
    // model: "method":"POST"); another method finds no operation.
    if protocol == Protocol::RestJson && parts.method != hyper::Method::POST {
        operation.clear();
    }

    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let err = ApiError::new(413, "RequestEntityTooLarge", "request body too large");
            return Ok(render(protocol, service, &request_id, Err(err)));
        }
    };

    // AWS Query carries the operation in the form body (or query string),
    // as `Action`; CloudWatch also takes the older `Operation`
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/making-api-requests.html).
    let mut form: Vec<(String, String)> = Vec::new();
    if protocol == Protocol::Query {
        form = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .chain(form_urlencoded::parse(&body))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        operation = param("Action")
            .or_else(|| if service == Service::CloudWatch { param("Operation") } else { None })
            .unwrap_or_default();
    }
    let action = if operation.is_empty() { "(unknown)".to_string() } else { operation.clone() };

    let now = state.now();
    let region = signing.as_ref().map(|s| s.region.clone()).unwrap_or_default();

    let knobs = state.knobs();
    // AWS refuses a signature made too far from its own clock before it
    // looks at who signed it.
    let skewed = knobs.check_request_time && signed_at.is_some_and(|t| (t - now).abs() > MAX_CLOCK_SKEW_SECS);
    let caller = match &signing {
        None => Err(auth_error(protocol, AuthFailure::Missing)),
        Some(_) if skewed => Err(ApiError::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )),
        Some(s) => {
            resolve_caller(state, &s.access_key_id, security_token.as_deref(), now).map_err(|f| auth_error(protocol, f))
        }
    };
    let account = caller.as_ref().map(|c| c.account.clone()).unwrap_or_default();

    // Injected faults hit any request, authenticated or not, before it does
    // anything: the front end failed, not the service behind it.
    let fault =
        if knobs.broken_operations.contains(&action) { Some(Fault::InternalError) } else { state.draw_fault(&knobs) };
    let iam_action = format!("{}:{}", service.iam_prefix(), action);
    state.count(&account, &region, &action, &iam_action, fault.is_some());
    let result = match (fault, caller) {
        (Some(Fault::Reset), _) => {
            if !knobs.latency.is_zero() {
                tokio::time::sleep(knobs.latency).await;
            }
            return Err(ConnectionReset);
        }
        (Some(Fault::Throttle), _) => Err(throttled(protocol, service)),
        (Some(Fault::InternalError), _) => Err(server_error(service, false)),
        (Some(Fault::Unavailable), _) => Err(server_error(service, true)),
        (None, Err(e)) => Err(e),
        (None, Ok(caller)) => {
            let call = Call { state, caller, region, now, request_id: request_id.clone(), protocol };
            let answer = dispatch(&call, &knobs, service, &operation, &form, &body);
            match (&knobs.malformed, answer) {
                (Some(m), Ok(reply))
                    if m.account.as_ref().is_none_or(|a| *a == account)
                        && m.action.as_ref().is_none_or(|a| *a == operation) =>
                {
                    Ok(malformed::garble(m.kind, reply, &|r| to_wire(protocol, &operation, &request_id, r)))
                }
                (_, answer) => answer,
            }
        }
    };
    // CloudWatch answers in JSON 1.0 or AWS Query are encoded from the
    // handler's CBOR value here, after any garbling of that value.
    let result = result.map(|reply| to_wire(protocol, &operation, &request_id, reply));
    if !knobs.latency.is_zero() {
        tokio::time::sleep(knobs.latency).await;
    }
    Ok(render(protocol, service, &request_id, result))
}

fn dispatch(
    call: &Call<'_>,
    knobs: &SimKnobs,
    service: Service,
    operation: &str,
    form: &[(String, String)],
    body: &[u8],
) -> Result<Reply, ApiError> {
    if !call.state.admit(knobs, &call.caller.account, &call.region, operation) {
        call.state.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(throttled(call.protocol, service));
    }
    // An opt-in region the account has not enabled does not know its
    // credentials at all (STS answers from the base region).
    if service != Service::Sts
        && knobs
            .disabled_regions
            .iter()
            .any(|(account, region)| *account == call.caller.account && *region == call.region)
    {
        return Err(unrecognized_client(call.protocol));
    }
    // GetCallerIdentity needs no permission in AWS; everything else must be
    // allowed by the caller's identity policy (the deny_actions knob) and
    // by its session policy, when it has one.
    let iam_action = format!("{}:{}", service.iam_prefix(), operation);
    if operation != "GetCallerIdentity" {
        let denied_by_identity = knobs
            .deny_actions
            .iter()
            .any(|(account, action)| *account == call.caller.account && glob(action, &iam_action));
        let denied_by_session = call.caller.policy.as_ref().is_some_and(|p| !p.allows(&iam_action));
        let policy = if denied_by_identity {
            Some(DeniedBy::IdentityPolicy)
        } else if denied_by_session {
            Some(DeniedBy::SessionPolicy)
        } else {
            None
        };
        if let Some(policy) = policy {
            let resource = action_resource(call, service, operation, form);
            return Err(not_authorized(call, service, &iam_action, resource.as_deref(), Some(policy)));
        }
    }
    match service {
        Service::Sts => sts::handle(call, operation, form),
        Service::CloudWatch => cloudwatch::handle(call, operation, body, form),
        Service::Logs => logs::handle(call, operation, body),
        Service::CostExplorer => cost::handle(call, operation, body),
        Service::Organizations => organizations::handle(call, operation, body),
        Service::Tagging => crate::tagging::handle(call, operation, body),
        Service::Oam => crate::oam::handle(call, operation, body),
        Service::Unknown => Err(unknown_operation(call.protocol, service, operation)),
    }
}

/// Which policy failed to allow an action, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeniedBy {
    IdentityPolicy,
    SessionPolicy,
}

/// The resource AWS names in an access-denied message for `operation`, or
/// `None` for actions without resource-level permissions (AWS then leaves
/// the "on resource" part out).
fn action_resource(call: &Call<'_>, service: Service, operation: &str, form: &[(String, String)]) -> Option<String> {
    let (region, account) = (&call.region, &call.caller.account);
    match service {
        Service::Logs => Some(format!("arn:aws:logs:{region}:{account}:log-group:*")),
        // Cost Explorer is global and billed from us-east-1.
        Service::CostExplorer => Some(format!("arn:aws:ce:us-east-1:{account}:/{operation}")),
        Service::Sts if operation == "AssumeRole" => form.iter().find(|(k, _)| k == "RoleArn").map(|(_, v)| v.clone()),
        _ => None,
    }
}

/// AWS's access-denied error for `action`, in the protocol of `service`.
/// The one message builder for every denial the simulator produces
/// (identity policy, session policy, trust policy), so collectors see one
/// shape: `User: <arn> is not authorized to perform: <action>[ on resource:
/// <arn>][ because no <identity-based|session> policy allows the <action>
/// action]`. Organizations words every denial its own way.
pub(crate) fn not_authorized(
    call: &Call<'_>,
    service: Service,
    action: &str,
    resource: Option<&str>,
    denied_by: Option<DeniedBy>,
) -> ApiError {
    if service == Service::Organizations {
        return access_denied(call.protocol, organizations::ACCESS_DENIED.to_string());
    }
    let mut message = format!("User: {} is not authorized to perform: {action}", call.caller.arn);
    if let Some(resource) = resource {
        message.push_str(" on resource: ");
        message.push_str(resource);
    }
    match denied_by {
        Some(DeniedBy::IdentityPolicy) => {
            message.push_str(&format!(" because no identity-based policy allows the {action} action"))
        }
        Some(DeniedBy::SessionPolicy) => {
            message.push_str(&format!(" because no session policy allows the {action} action"))
        }
        None => {}
    }
    access_denied(call.protocol, message)
}

/// The identity of a request from its access key (and session token).
fn resolve_caller(state: &State, access_key_id: &str, token: Option<&str>, now: i64) -> Result<Caller, AuthFailure> {
    if access_key_id == SimFleet::ACCESS_KEY_ID {
        return Ok(Caller {
            account: PAYER_ACCOUNT.to_string(),
            arn: format!("arn:aws:iam::{PAYER_ACCOUNT}:user/fleetdeck-demo"),
            user_id: "AIDAFLEETDECKDEMO0001".to_string(),
            policy: None,
        });
    }
    let sessions = lock(&state.sessions);
    let session = sessions.get(access_key_id).ok_or(AuthFailure::UnknownKey)?;
    if token != Some(session.token.as_str()) {
        return Err(AuthFailure::UnknownKey);
    }
    if session.expires <= now {
        return Err(AuthFailure::Expired);
    }
    Ok(session.caller())
}

/// The parts of a SigV4 `Authorization` header the simulator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signing {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

/// Epoch seconds of a SigV4 `X-Amz-Date` (`20261122T080000Z`).
fn parse_amz_date(value: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc().timestamp())
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
pub(crate) fn parse_authorization(header: &str) -> Option<Signing> {
    let rest = header.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest.split(',').map(str::trim).find_map(|part| part.strip_prefix("Credential="))?;
    let mut scope = credential.split('/');
    let access_key_id = scope.next()?;
    let _date = scope.next()?;
    let region = scope.next()?;
    let service = scope.next()?;
    if scope.next()? != "aws4_request" || scope.next().is_some() || access_key_id.is_empty() {
        return None;
    }
    Some(Signing { access_key_id: access_key_id.to_string(), region: region.to_string(), service: service.to_string() })
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn authorization_header_yields_key_region_and_service() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIAFLEETDECKSIM0001/20261122/eu-west-1/monitoring/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            parse_authorization(h),
            Some(Signing {
                access_key_id: "AKIAFLEETDECKSIM0001".into(),
                region: "eu-west-1".into(),
                service: "monitoring".into(),
            })
        );
        assert_eq!(parse_authorization("Bearer x"), None);
        assert_eq!(parse_authorization("AWS4-HMAC-SHA256 Credential=/x/y"), None);
        assert_eq!(parse_authorization("AWS4-HMAC-SHA256 Credential=A/d/r/s/other"), None);
    }
}
