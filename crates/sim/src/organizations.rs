//! AWS Organizations over AWS JSON 1.1: `ListAccounts` and
//! `ListTagsForResource`, answered only to the management (payer) account,
//! as AWS does for an organization without delegated administrators.
//!
//! The organization holds every account of the fleet (the payer, the
//! shared, EKS and pooled accounts, one per silo or remote tenant) and two
//! accounts outside it (security audit, sandbox), so a collector that
//! discovers tenants from the organization must tell them apart by tags:
//! tenant accounts carry `tenant-id` and `tenant-tier`, the shared ones
//! `tenancy=shared`, the others nothing. Remote tenants' accounts are
//! customer-owned; most were invited into the organization (consolidated
//! billing), hence `JoinedMethod: INVITED`, one never was and is not listed.

use serde_json::{json, Value};

use super::fleet::{Fleet, Model, COST_TAG, PAYER_ACCOUNT};
use super::protocol::{access_denied, json_input, page_token, parse_page_token, unknown_operation, Service};
use super::series::{hash_str, mix};
use super::server::{ApiError, Call, Reply};

/// What Organizations answers to any caller it refuses, whatever the cause.
pub(crate) const ACCESS_DENIED: &str = "You don't have permissions to access this resource.";
/// `ListAccounts` page size bounds (AWS: 1..=20, default 20).
const MAX_RESULTS: i64 = 20;
/// The provider's mail domain for the accounts it created.
const DOMAIN: &str = "saas-provider.example";

/// One member account as `ListAccounts` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgAccount {
    pub id: String,
    pub name: String,
    pub email: String,
    pub joined_method: &'static str,
    /// Epoch seconds with milliseconds, as AWS reports it.
    pub joined: f64,
    pub tags: Vec<(String, String)>,
}

/// The organization's id (`o-` and ten characters), from the seed.
fn org_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h = mix(&[seed, 0x006f_7267]);
    let mut id = String::from("o-");
    for _ in 0..10 {
        id.push(ALPHABET[(h % ALPHABET.len() as u64) as usize] as char);
        h /= ALPHABET.len() as u64;
    }
    id
}

/// Every account of the organization in a stable order: the payer, the
/// shared accounts, the tenants' accounts in fleet order, the others.
pub(crate) fn org_accounts(fleet: &Fleet) -> Vec<OrgAccount> {
    let seed = fleet.options.seed;
    // The organization was set up about four years before the demo; the
    // rest joined over the following years, never after the demo's start.
    let created = fleet.options.now - (1400 + (mix(&[seed, 0x0c]) % 60) as i64) * 86_400;
    let joined = |id: &str, after_days: i64, spread_days: u64| -> f64 {
        let h = mix(&[seed, hash_str(id), 0x0d]);
        let secs = created + after_days * 86_400 + (h % (spread_days.max(1) * 86_400)) as i64;
        secs.min(fleet.options.now - 86_400) as f64 + (h >> 40) as f64 % 1000.0 / 1000.0
    };
    let shared_tags = || vec![("tenancy".to_string(), "shared".to_string())];
    let mut out = vec![OrgAccount {
        id: PAYER_ACCOUNT.to_string(),
        name: fleet.account_name(PAYER_ACCOUNT),
        email: format!("aws-management@{DOMAIN}"),
        // The management account created the organization; AWS lists it
        // as having joined by invitation.
        joined_method: "INVITED",
        joined: created as f64,
        tags: Vec::new(),
    }];
    let pooled = fleet.pooled_accounts.iter().enumerate().map(|(k, a)| {
        let label = if k == 0 { "pooled-platform".to_string() } else { format!("pooled-platform-{}", k + 1) };
        (a, label)
    });
    let shared = [(&fleet.shared_account, "shared-vpc".to_string()), (&fleet.eks_account, "eks".to_string())];
    for (account, label) in shared.into_iter().chain(pooled) {
        out.push(OrgAccount {
            id: account.clone(),
            name: fleet.account_name(account),
            email: format!("aws-{label}@{DOMAIN}"),
            joined_method: "CREATED",
            joined: joined(account, 20, 60),
            tags: shared_tags(),
        });
    }
    for t in fleet.tenants.iter().filter(|t| t.model.owns_account() && !t.outside_organization()) {
        let (email, method) = match t.model {
            Model::Remote => (format!("cloud-admin@{}.example.com", t.id), "INVITED"),
            _ => (format!("aws+{}@{DOMAIN}", t.id), "CREATED"),
        };
        out.push(OrgAccount {
            id: t.account.clone(),
            name: fleet.account_name(&t.account),
            email,
            joined_method: method,
            joined: joined(&t.account, 90, 1200),
            tags: vec![(COST_TAG.to_string(), t.id.clone()), ("tenant-tier".to_string(), t.tier.as_str().to_string())],
        });
    }
    for (account, label) in &fleet.other_accounts {
        out.push(OrgAccount {
            id: account.clone(),
            name: fleet.account_name(account),
            email: format!("aws-{label}@{DOMAIN}"),
            joined_method: "CREATED",
            joined: joined(account, 5, 30),
            tags: Vec::new(),
        });
    }
    // The monitoring account is a member like the platform's accounts
    // (created for it, without tenants).
    if let Some(account) = &fleet.monitoring_account {
        out.push(OrgAccount {
            id: account.clone(),
            name: fleet.account_name(account),
            email: format!("aws-monitoring@{DOMAIN}"),
            joined_method: "CREATED",
            joined: joined(account, 30, 60),
            tags: Vec::new(),
        });
    }
    out
}

pub(crate) fn handle(call: &Call<'_>, operation: &str, body: &[u8]) -> Result<Reply, ApiError> {
    // Authorization comes before anything is read, as in AWS.
    if call.caller.account != PAYER_ACCOUNT {
        return Err(access_denied(call.protocol, ACCESS_DENIED.to_string()));
    }
    let input = json_input(body)?;
    match operation {
        "ListAccounts" => list_accounts(call, &input),
        "ListTagsForResource" => list_tags_for_resource(call, &input),
        _ => Err(unknown_operation(call.protocol, Service::Organizations, operation)),
    }
}

fn invalid_input(reason: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidInputException", message).with("Reason", reason)
}

fn bad_token() -> ApiError {
    invalid_input("INVALID_PAGINATION_TOKEN", "You specified an invalid value for nextToken.")
}

fn str_field<'a>(input: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::new(400, "SerializationException", format!("{name} must be a string"))),
    }
}

/// This operation's paging tokens ([`page_token`]).
const TOKEN_SALT: u64 = 0x7061_6765;

fn list_accounts(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let fleet = &call.state.fleet;
    let seed = fleet.options.seed;
    let max = match input.get("MaxResults") {
        None | Some(Value::Null) => MAX_RESULTS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::new(400, "SerializationException", "MaxResults must be an integer".to_string()))?,
    };
    if max < 1 {
        return Err(invalid_input(
            "MIN_VALUE_EXCEEDED",
            "You provided a value that's too low: MaxResults must be at least 1.",
        ));
    }
    if max > MAX_RESULTS {
        return Err(invalid_input(
            "MAX_VALUE_EXCEEDED",
            format!("You provided a value that's too high: MaxResults must be at most {MAX_RESULTS}."),
        ));
    }
    let accounts = org_accounts(fleet);
    let offset = match str_field(input, "NextToken")? {
        None => 0,
        Some(t) => parse_page_token(seed, TOKEN_SALT, t).filter(|o| *o < accounts.len()).ok_or_else(bad_token)?,
    };
    let org = org_id(seed);
    let page: Vec<Value> = accounts
        .iter()
        .skip(offset)
        .take(max as usize)
        .map(|a| {
            json!({
                "Id": a.id,
                "Arn": format!("arn:aws:organizations::{PAYER_ACCOUNT}:account/{org}/{}", a.id),
                "Email": a.email,
                "Name": a.name,
                // Status is deprecated in favour of State; AWS sends both.
                "Status": "ACTIVE",
                "State": "ACTIVE",
                "JoinedMethod": a.joined_method,
                "JoinedTimestamp": a.joined,
            })
        })
        .collect();
    let mut out = json!({ "Accounts": page });
    let next = offset + max as usize;
    if next < accounts.len() {
        out["NextToken"] = json!(page_token(seed, TOKEN_SALT, next));
    }
    Ok(Reply::Json(out))
}

fn list_tags_for_resource(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let id = str_field(input, "ResourceId")?
        .ok_or_else(|| invalid_input("INPUT_REQUIRED", "You must specify a value for ResourceId."))?;
    if str_field(input, "NextToken")?.is_some() {
        // Tag lists fit one page here, so no token was ever issued.
        return Err(bad_token());
    }
    // Accounts, roots, OUs and policies can carry tags; only accounts are
    // modelled, so any other well-formed id is simply not found.
    let well_formed = |prefix: &str| {
        id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
    };
    let is_account = id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
    if !(is_account || well_formed("r-") || well_formed("ou-") || well_formed("p-")) {
        return Err(invalid_input(
            "INVALID_PATTERN_TARGET_ID",
            format!("You specified a value that is not valid for ResourceId: {id}."),
        ));
    }
    let account = org_accounts(&call.state.fleet).into_iter().find(|a| a.id == id);
    let Some(account) = account else {
        return Err(ApiError::new(400, "TargetNotFoundException", "You specified a target that doesn't exist."));
    };
    let tags: Vec<Value> = account.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    Ok(Reply::Json(json!({ "Tags": tags })))
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use crate::SimOptions;

    #[test]
    fn the_organization_lists_each_account_once_with_tenant_tags() {
        let fleet = Fleet::generate(&SimOptions {
            seed: 7,
            tenants: 24,
            now: 1_795_300_000,
            shape: None,
            realistic: false,
            noisy_neighbour: false,
            monitoring: false,
        });
        let accounts = org_accounts(&fleet);
        let ids: std::collections::HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), accounts.len(), "no account twice");
        // payer + 3 shared + the silo/remote ones invited or created + 2 outside the fleet
        let own = fleet.tenants.iter().filter(|t| t.model.owns_account() && !t.outside_organization()).count();
        assert_eq!(accounts.len(), 1 + 3 + own + 2);
        assert_eq!(accounts[0].id, PAYER_ACCOUNT);
        assert!(accounts.iter().all(|a| a.joined < 1_795_300_000.0 && a.joined > 1.6e9));
        let globex = fleet.tenants.iter().find(|t| t.id == "globex").expect("globex");
        let tags = &accounts.iter().find(|a| a.id == globex.account).expect("globex account").tags;
        assert_eq!(
            tags,
            &vec![
                ("tenant-id".to_string(), "globex".to_string()),
                ("tenant-tier".to_string(), "enterprise".to_string())
            ]
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_strangers() {
        let t = page_token(7, TOKEN_SALT, 5);
        assert_eq!(parse_page_token(7, TOKEN_SALT, &t), Some(5));
        assert_eq!(parse_page_token(8, TOKEN_SALT, &t), None);
        assert_eq!(parse_page_token(7, TOKEN_SALT, "garbage"), None);
        assert!(org_id(7).starts_with("o-") && org_id(7).len() == 12);
    }
}
