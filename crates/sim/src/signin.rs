//! The AWS federation sign-in endpoint (`https://signin.aws.amazon.com/federation`)
//! as the IAM User Guide documents it for custom identity brokers ("Enable
//! custom identity broker access to the AWS console"), the way aws-vault and
//! granted open the console:
//!
//! - `GET /federation?Action=getSigninToken&Session=<JSON>`, the JSON holding
//!   `sessionId`, `sessionKey` and `sessionToken` of *temporary* credentials
//!   (from AssumeRole or GetFederationToken: "You can't use the credentials
//!   of an IAM user", long-term keys are refused), answers
//!   `{"SigninToken": "..."}`. The token is good for 15 minutes.
//! - `GET /federation?Action=login&Issuer=..&Destination=..&SigninToken=..`
//!   signs the browser in as that session and redirects to `Destination`.
//!
//! The console then acts with the session's permissions, its session policy
//! included. Errors: the guide documents none; the simulator answers 400
//! with a short text, the less convenient reading (no JSON to parse).

use std::sync::Arc;

use super::server::{lock, State};
use super::sts::Policy;

/// A sign-in token's life ("The sign-in token is valid for 15 minutes").
const TOKEN_LIFE_SECS: i64 = 15 * 60;

/// A console sign-in the simulator issued, and whether a browser used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSignIn {
    pub token: String,
    /// The session the console acts as (`arn:aws:sts::..:assumed-role/..`).
    pub caller_arn: String,
    /// Whether that session carries an inline session policy.
    pub session_policy: bool,
    pub expires: i64,
    /// Where `Action=login` sent the browser, once it did.
    pub destination: Option<String>,
}

/// Issued tokens; `Arc<Policy>` kept to tell policy-bound sessions.
#[derive(Debug, Default)]
pub(crate) struct SignIns {
    issued: Vec<(ConsoleSignIn, Option<Arc<Policy>>)>,
}

impl SignIns {
    pub(crate) fn all(&self) -> Vec<ConsoleSignIn> {
        self.issued.iter().map(|(s, _)| s.clone()).collect()
    }
}

/// (status, content type, body, redirect) for one `/federation` request.
pub(crate) fn handle(state: &State, query: &str) -> (u16, &'static str, String, Option<String>) {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let bad = |text: &str| (400, "text/plain", text.to_string(), None);
    let now = state.now();
    match param("Action") {
        Some("getSigninToken") => {
            let Some(session) = param("Session").and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()) else {
                return bad("Session is missing or not JSON");
            };
            let field = |k: &str| session.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let (id, token) = (field("sessionId"), field("sessionToken"));
            let found = {
                let sessions = lock(&state.sessions);
                sessions
                    .get(&id)
                    .filter(|s| s.token == token && s.expires > now)
                    .map(|s| (s.caller(), s.policy.clone(), s.expires))
            };
            // Long-term keys are not sessions: refused like unknown ones.
            let Some((caller, policy, expires)) = found else {
                return bad("The sign-in credentials are not valid temporary security credentials");
            };
            let mut signins = lock(&state.signins);
            let n = signins.issued.len() as u64 + 1;
            let sign_in_token = format!(
                "SimSignin{:016x}{:016x}",
                super::series::mix(&[state.fleet.options.seed, n, 7]),
                super::series::hash_str(&caller.arn)
            );
            signins.issued.push((
                ConsoleSignIn {
                    token: sign_in_token.clone(),
                    caller_arn: caller.arn.clone(),
                    session_policy: policy.is_some(),
                    expires: (now + TOKEN_LIFE_SECS).min(expires),
                    destination: None,
                },
                policy,
            ));
            (200, "application/json", serde_json::json!({ "SigninToken": sign_in_token }).to_string(), None)
        }
        Some("login") => {
            let (Some(token), Some(destination)) = (param("SigninToken"), param("Destination")) else {
                return bad("SigninToken and Destination are required");
            };
            let mut signins = lock(&state.signins);
            match signins.issued.iter_mut().find(|(s, _)| s.token == token && s.expires > now) {
                Some((s, _)) => {
                    s.destination = Some(destination.to_string());
                    (302, "text/plain", String::new(), Some(destination.to_string()))
                }
                None => bad("The sign-in token is not valid or has expired"),
            }
        }
        _ => bad("Action must be getSigninToken or login"),
    }
}
