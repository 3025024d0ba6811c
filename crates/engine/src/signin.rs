//! The AWS console, signed in as the tenant's own read-only session: the
//! federation sign-in the IAM User Guide documents for custom identity
//! brokers ("Enable custom identity broker access to the AWS console"), the
//! way aws-vault and granted open the console.
//!
//! The console's switch-role page cannot: it sends no ExternalId (every
//! silo and remote tenant requires one) and drops the inline session policy.
//! Here the session fleetdeck already assumed (ExternalId, session policy,
//! source identity) is exchanged at the federation endpoint for a sign-in
//! token, good for 15 minutes, and the login URL carrying it is handed to
//! the browser. Neither the token nor the URL is kept, logged or returned
//! to the window.

use aws_sdk_sts::config::{ProvideCredentials, SharedCredentialsProvider};

use crate::aws::{plain, AwsAccess, Failure};
use crate::model::SourceStatus;

/// Who the console says sent the viewer (`Issuer`).
const ISSUER: &str = "https://github.com/fleetdeck";

/// The federation endpoint of the partition `region` is in, or the
/// emulator's (`<endpoint_url>/federation`).
pub fn federation_endpoint(endpoint_url: Option<&str>, region: &str) -> String {
    if let Some(url) = endpoint_url {
        return format!("{}/federation", url.trim_end_matches('/'));
    }
    let host = if region.starts_with("cn-") {
        "signin.amazonaws.cn"
    } else if region.starts_with("us-gov-") {
        "signin.amazonaws-us-gov.com"
    } else {
        "signin.aws.amazon.com"
    };
    format!("https://{host}/federation")
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A one-time URL that opens `destination` (a console page) signed in as
/// `creds`, a session fleetdeck assumed. Sends the session's keys to the
/// federation endpoint only, over HTTPS, as AWS documents.
pub async fn console_url(
    aws: &AwsAccess,
    creds: &SharedCredentialsProvider,
    destination: &str,
) -> Result<String, Failure> {
    let failure =
        |status, message: String, remediation: &str| Failure { status, message, remediation: remediation.to_string() };
    let c = creds.provide_credentials().await.map_err(|e| {
        let text = aws_sdk_sts::error::DisplayErrorContext(&e).to_string();
        crate::aws::classify_text(&text, None)
    })?;
    let Some(token) = c.session_token() else {
        return Err(failure(
            SourceStatus::Error,
            "the console sign-in needs a session (temporary credentials), not long-term keys".into(),
            "open the console through the tenant's role: check the tenant's role_arn in the fleet file",
        ));
    };
    let session = serde_json::json!({
        "sessionId": c.access_key_id(),
        "sessionKey": c.secret_access_key(),
        "sessionToken": token,
    })
    .to_string();
    let endpoint = aws.federation_endpoint();
    let ask = format!("{endpoint}?Action=getSigninToken&Session={}", encode(&session));
    let (status, body) = crate::reach::get(&aws.reach, &ask).await.map_err(|why| {
        failure(
            SourceStatus::Unreachable,
            format!("the AWS sign-in endpoint did not answer: {why}"),
            "check the network, VPN or proxy (HTTPS_PROXY); the endpoint is the one in the message",
        )
    })?;
    let signin_token = (status == 200)
        .then(|| serde_json::from_str::<serde_json::Value>(&body).ok())
        .flatten()
        .and_then(|v| v.get("SigninToken").and_then(|t| t.as_str()).map(str::to_string));
    let Some(signin_token) = signin_token else {
        return Err(failure(
            SourceStatus::Error,
            format!("the AWS sign-in endpoint answered HTTP {status}: {}", plain(&body)),
            "sync again (the session is renewed) and retry; if it persists, the tenant's session may have expired",
        ));
    };
    Ok(format!(
        "{endpoint}?Action=login&Issuer={}&Destination={}&SigninToken={}",
        encode(ISSUER),
        encode(destination),
        encode(&signin_token)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_partition_signs_in_at_its_own_endpoint_and_emulators_at_theirs() {
        assert_eq!(federation_endpoint(None, "eu-west-1"), "https://signin.aws.amazon.com/federation");
        assert_eq!(federation_endpoint(None, "cn-north-1"), "https://signin.amazonaws.cn/federation");
        assert_eq!(federation_endpoint(None, "us-gov-west-1"), "https://signin.amazonaws-us-gov.com/federation");
        assert_eq!(federation_endpoint(Some("http://127.0.0.1:4566/"), "x"), "http://127.0.0.1:4566/federation");
    }
}
