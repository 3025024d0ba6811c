//! CloudWatch Observability Access Manager (OAM) over AWS restJson1: the
//! monitoring account's view of CloudWatch cross-account observability,
//! `ListSinks`, `GetSink`, `GetSinkPolicy` and `ListAttachedLinks`, as the
//! OAM API Reference describes them
//! (<https://docs.aws.amazon.com/OAM/latest/APIReference/Welcome.html>),
//! with the shapes of botocore's model (`oam/2022-06-10/service-2.json`)
//! and aws-sdk-oam 1.x's deserializers.
//!
//! The simulated estate, with [`crate::SimOptions::monitoring`]: one
//! monitoring account with one sink named `fleetdeck` in each of the three
//! regions ("Each account can contain one sink per Region", CreateSink),
//! and, in each region, a link to it from every account holding tenant
//! data there, sharing `AWS::CloudWatch::Metric` and `AWS::Logs::LogGroup`,
//! labelled with the account's name (`$AccountName`, CreateLink's
//! `LabelTemplate`). The knobs take links away
//! ([`crate::SimKnobs::oam_unlinked`]) or resource types from them
//! ([`crate::SimKnobs::oam_withheld`]); what a link does not share, the
//! monitoring account does not see (GetMetricData's `AccountId`, Logs
//! Insights over source ARNs, `DescribeLogGroups` with
//! `includeLinkedAccounts`, the monitoring account's alarms: [`shares`]).
//!
//! Where the reference is silent:
//! - `MaxResults` has a documented range (ListSinks 1-100,
//!   ListAttachedLinks 1-1000) and no documented default. The simulator
//!   takes 5 (the most ListLinks ever returns, the smallest OAM page): a
//!   client that does not follow `NextToken` misses links, the less
//!   convenient reading.
//! - Identifiers must be the sink's ARN ("The ARN of the sink"); the bare
//!   sink id, or the ARN of a sink of another region or account, is a
//!   `ResourceNotFoundException` (HTTP 404).
//! - `GetSink` returns `Tags` only when `IncludeTags` is true ("The default
//!   value is false", GetSink in the current reference), and then only if
//!   the caller may `oam:ListTagsForResource`.
//! - A `NextToken` this sink and operation did not issue is an
//!   `InvalidParameterException`.
//! - No request rate quota is documented for these operations (the
//!   CloudWatch service quotas list none for OAM), so
//!   [`crate::SimKnobs::aws_quotas`] sets none; OAM calls are still
//!   counted, denied, faulted and rate-limited by the knobs like any other.

use serde_json::{json, Value};

use super::fleet::{Fleet, OAM_LOG_GROUP, OAM_METRIC, REGIONS, SINK_NAME};
use super::protocol::{json_input, page_token, parse_page_token, unknown_operation, Service};
use super::series::{hash_str, mix};
use super::server::{not_authorized, ApiError, Call, DeniedBy, Reply};
use super::sts::glob;
use super::SimKnobs;

/// `ListSinksMaxResults` (1-100) and `ListAttachedLinksMaxResults`
/// (1-1000) in botocore's model; the API Reference pages say the same.
const MAX_SINKS_PAGE: i64 = 100;
const MAX_LINKS_PAGE: i64 = 1000;
/// Neither page has a documented default (see the module docs).
const DEFAULT_PAGE: i64 = 5;

/// The resource types every simulated link shares, in this order.
const SHARED_TYPES: [&str; 2] = [OAM_METRIC, OAM_LOG_GROUP];

/// Salts of this module's paging tokens ([`page_token`]).
const SINKS_SALT: u64 = 0x0a11_5111;
const LINKS_SALT: u64 = 0x0a11_1111;

pub(crate) fn handle(call: &Call<'_>, operation: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let input = json_input(body)?;
    match operation {
        "ListSinks" => list_sinks(call, &input),
        "GetSink" => get_sink(call, &input),
        "GetSinkPolicy" => get_sink_policy(call, &input),
        "ListAttachedLinks" => list_attached_links(call, &input),
        _ => Err(unknown_operation(call.protocol, Service::Oam, operation)),
    }
}

/// "A parameter is specified incorrectly." (HTTP 400)
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

/// "A required parameter is missing from the request." (HTTP 400)
fn missing(name: &str) -> ApiError {
    ApiError::new(400, "MissingRequiredParameterException", format!("Missing required parameter in input: {name}"))
}

/// "The request references a resource that does not exist." (HTTP 404)
fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(404, "ResourceNotFoundException", message)
}

/// The monitoring account's sink in one region.
struct Sink {
    arn: String,
    id: String,
}

/// The caller's sink in the signing region, if it has one.
fn own_sink(call: &Call<'_>) -> Option<Sink> {
    let fleet = &call.state.fleet;
    if !fleet.is_monitoring(&call.caller.account) || !REGIONS.contains(&call.region.as_str()) {
        return None;
    }
    let id = fleet.sink_id(&call.region);
    Some(Sink { arn: format!("arn:aws:oam:{}:{}:sink/{id}", call.region, call.caller.account), id })
}

/// The sink an identifier names: only the caller's own sink of the
/// signing region, by its ARN.
fn find_sink(call: &Call<'_>, input: &Value, member: &str) -> Result<Sink, ApiError> {
    let identifier = match input.get(member) {
        None | Some(Value::Null) => return Err(missing(member)),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ApiError::new(400, "SerializationException", format!("{member} must be a string"))),
    };
    // ResourceIdentifier: ^[a-zA-Z0-9][a-zA-Z0-9_:\.\-\/]{0,2047}$
    let well_formed = identifier.len() <= 2048
        && identifier.starts_with(|c: char| c.is_ascii_alphanumeric())
        && identifier.chars().all(|c| c.is_ascii_alphanumeric() || "_:.-/".contains(c));
    if !well_formed {
        return Err(invalid(format!("{member} '{identifier}' is not a valid sink ARN.")));
    }
    own_sink(call)
        .filter(|s| s.arn == identifier)
        .ok_or_else(|| not_found(format!("Sink '{identifier}' does not exist.")))
}

/// `MaxResults` within `1..=max`, [`DEFAULT_PAGE`] when absent.
fn page_size(input: &Value, max: i64) -> Result<usize, ApiError> {
    let n = match input.get("MaxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => v.as_i64().ok_or_else(|| invalid("MaxResults must be an integer."))?,
    };
    if !(1..=max).contains(&n) {
        return Err(invalid(format!("MaxResults must be between 1 and {max}.")));
    }
    Ok(n as usize)
}

/// Where a page starts: 0, or the offset of a `NextToken` issued with
/// `salt` for a list of `len` items.
fn page_offset(call: &Call<'_>, input: &Value, salt: u64, len: usize) -> Result<usize, ApiError> {
    match input.get("NextToken") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(t)) => parse_page_token(call.state.fleet.options.seed, salt, t)
            .filter(|o| *o <= len)
            .ok_or_else(|| invalid("The NextToken is not valid.")),
        Some(_) => Err(ApiError::new(400, "SerializationException", "NextToken must be a string")),
    }
}

/// One page of `items` and the `NextToken` of the rest.
fn page(call: &Call<'_>, items: Vec<Value>, offset: usize, size: usize, salt: u64) -> Value {
    let next = offset.saturating_add(size);
    let has_more = next < items.len();
    let mut out = json!({ "Items": items.into_iter().skip(offset).take(size).collect::<Vec<_>>() });
    if has_more {
        out["NextToken"] = json!(page_token(call.state.fleet.options.seed, salt, next));
    }
    out
}

/// ListSinks: "Use this operation in a monitoring account to return the
/// list of sinks created in that account", in the signing region. Any
/// other account has none: an empty list.
fn list_sinks(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let size = page_size(input, MAX_SINKS_PAGE)?;
    let sinks: Vec<Value> =
        own_sink(call).into_iter().map(|s| json!({ "Arn": s.arn, "Id": s.id, "Name": SINK_NAME })).collect();
    let salt = mix(&[SINKS_SALT, hash_str(&call.caller.account), hash_str(&call.region)]);
    let offset = page_offset(call, input, salt, sinks.len())?;
    Ok(Reply::Json(page(call, sinks, offset, size, salt)))
}

/// GetSink: "Returns complete information about one monitoring account
/// sink", by its ARN.
fn get_sink(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let sink = find_sink(call, input, "Identifier")?;
    let include_tags = match input.get("IncludeTags") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::new(400, "SerializationException", "IncludeTags must be a boolean")),
    };
    let mut out = json!({ "Arn": sink.arn, "Id": sink.id, "Name": SINK_NAME });
    if include_tags {
        // "If the caller doesn't have the required permission,
        // oam:ListTagsForResource, the API will raise an exception."
        // (GetSink, IncludeTags)
        let action = "oam:ListTagsForResource";
        let knobs = call.state.knobs();
        let by_identity = knobs
            .deny_actions
            .iter()
            .any(|(account, pattern)| *account == call.caller.account && glob(pattern, action));
        let by_session = call.caller.policy.as_ref().is_some_and(|p| !p.allows(action));
        if by_identity || by_session {
            let policy = if by_identity { DeniedBy::IdentityPolicy } else { DeniedBy::SessionPolicy };
            return Err(not_authorized(call, Service::Oam, action, Some(&sink.arn), Some(policy)));
        }
        out["Tags"] = json!({ "managed-by": "fleetdeck", "purpose": "cross-account-observability" });
    }
    Ok(Reply::Json(out))
}

/// GetSinkPolicy: the sink policy, "what accounts can attach to this sink
/// as source accounts, and what types of data they can share". Written as
/// the reference's example for individual accounts (PutSinkPolicy,
/// Examples): the linked accounts may `oam:CreateLink` and
/// `oam:UpdateLink` sharing only metrics and log groups. It names every
/// account the fleet links, whatever the knobs took away: a policy that
/// allows a link does not make the source account create it.
fn get_sink_policy(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let sink = find_sink(call, input, "SinkIdentifier")?;
    let accounts = call.state.fleet.oam_sources(&call.region);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": accounts },
            "Resource": "*",
            "Action": ["oam:CreateLink", "oam:UpdateLink"],
            "Condition": {
                "ForAllValues:StringEquals": { "oam:ResourceTypes": SHARED_TYPES }
            }
        }]
    });
    Ok(Reply::Json(json!({ "SinkArn": sink.arn, "SinkId": sink.id, "Policy": policy.to_string() })))
}

/// One link attached to the monitoring account's sink, as the knobs leave
/// it: the source account and the resource types it shares.
pub(crate) struct Link<'a> {
    pub source: &'a str,
    pub resource_types: Vec<&'static str>,
}

/// The links attached to the sink of `region`, in fleet order: the fleet's
/// links ([`Fleet::oam_sources`]) minus [`SimKnobs::oam_unlinked`], their
/// types minus [`SimKnobs::oam_withheld`].
pub(crate) fn attached_links<'a>(fleet: &'a Fleet, knobs: &SimKnobs, region: &str) -> Vec<Link<'a>> {
    fleet
        .oam_sources(region)
        .into_iter()
        .filter(|source| !knobs.oam_unlinked.iter().any(|(a, r)| a == source && r == region))
        .map(|source| Link { source, resource_types: shared_types(knobs, source, region) })
        .collect()
}

fn shared_types(knobs: &SimKnobs, source: &str, region: &str) -> Vec<&'static str> {
    SHARED_TYPES
        .into_iter()
        .filter(|t| !knobs.oam_withheld.iter().any(|(a, r, w)| a == source && r == region && w == t))
        .collect()
}

/// Does `source` share `resource_type` with the caller through the sink
/// of the signing region? Only a monitoring account's links share
/// anything, and only within their region (cross-account observability
/// "within a Region": CloudWatch User Guide, CloudWatch cross-account
/// observability).
pub(crate) fn shares(call: &Call<'_>, source: &str, resource_type: &str) -> bool {
    let fleet = &call.state.fleet;
    let region = call.region.as_str();
    if !fleet.is_monitoring(&call.caller.account) || !REGIONS.contains(&region) || source == call.caller.account {
        return false;
    }
    // The fleet links the accounts holding tenant data in the region
    // (never the payer, a staging account or the monitoring account).
    if fleet.tenants_in(source, region).next().is_none() {
        return false;
    }
    let knobs = call.state.knobs();
    !knobs.oam_unlinked.iter().any(|(a, r)| a == source && r == region)
        && shared_types(&knobs, source, region).contains(&resource_type)
}

/// ListAttachedLinks: "Returns a list of source account links that are
/// linked to this monitoring account sink".
fn list_attached_links(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let sink = find_sink(call, input, "SinkIdentifier")?;
    let size = page_size(input, MAX_LINKS_PAGE)?;
    let fleet = &call.state.fleet;
    let items: Vec<Value> = attached_links(fleet, &call.state.knobs(), &call.region)
        .into_iter()
        .map(|l| {
            let id = fleet.link_id(l.source, &call.region);
            json!({
                "Label": fleet.account_name(l.source),
                "LinkArn": format!("arn:aws:oam:{}:{}:link/{id}", call.region, l.source),
                "ResourceTypes": l.resource_types,
            })
        })
        .collect();
    let salt = mix(&[LINKS_SALT, hash_str(&sink.arn)]);
    let offset = page_offset(call, input, salt, items.len())?;
    Ok(Reply::Json(page(call, items, offset, size, salt)))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn one_sinks_token_is_not_another_sinks() {
        let a = mix(&[LINKS_SALT, hash_str("arn:aws:oam:us-east-1:1:sink/a")]);
        let b = mix(&[LINKS_SALT, hash_str("arn:aws:oam:eu-west-1:1:sink/b")]);
        assert_eq!(parse_page_token(7, a, &page_token(7, a, 5)), Some(5));
        assert_eq!(parse_page_token(7, b, &page_token(7, a, 5)), None);
    }
}
