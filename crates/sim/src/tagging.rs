//! The Resource Groups Tagging API over AWS JSON 1.1: `GetResources`, as the
//! API reference describes it
//! (<https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html>).
//!
//! - It answers for the caller's account in the signing region only ("the
//!   tagged or previously tagged resources that are located in the
//!   specified Region for the account").
//! - `TagFilters`: up to 50 keys, each with up to 20 values; a resource
//!   must match every filter (AND), any of a filter's values (OR), and a
//!   filter without values matches any value of its key.
//! - `ResourceTypeFilters`: `service[:resourceType]`, as embedded in the
//!   ARN (`elasticloadbalancing:loadbalancer`, `rds:db`, `ec2`).
//! - `ResourcesPerPage`: 1 to 100. The reference gives no default; the
//!   simulator takes 50.
//! - `PaginationToken`: the reference says a null token means no more
//!   results; in practice the service sends an empty string on the last
//!   page (the SDKs' paginators stop on either). The simulator sends the
//!   empty string, the less convenient reading: a client that only stops on
//!   a missing token loops. An unknown token is an
//!   `InvalidParameterException`.
//! - Each mapping carries every tag of the resource, not only the filtered
//!   ones.
//!
//! Which resources: each tenant's load balancers, target groups and
//! database in each region it runs in, tagged `tenant-id = <id>` and
//! `env = prod`; in the shared and pooled accounts also the platform's own
//! resources (a database cluster, a queue), tagged `team = platform`, which
//! no tenant filter matches.

use serde_json::{json, Value};

use super::fleet::{Fleet, COST_TAG};
use super::protocol::{json_input, page_token, parse_page_token, unknown_operation, Service};
use super::server::{ApiError, Call, Reply};

const MAX_PER_PAGE: i64 = 100;
const DEFAULT_PER_PAGE: i64 = 50;
const MAX_TAG_FILTERS: usize = 50;
const MAX_TAG_VALUES: usize = 20;

pub(crate) fn handle(call: &Call<'_>, operation: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let input = json_input(body)?;
    match operation {
        "GetResources" => get_resources(call, &input),
        _ => Err(unknown_operation(call.protocol, Service::Tagging, operation)),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "InvalidParameterException", message)
}

/// Every tagged resource of one account-region: (ARN, tags), stable order.
pub(crate) fn tagged(fleet: &Fleet, account: &str, region: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for t in fleet.tenants_in(account, region) {
        for r in &t.resources {
            let tags = vec![(COST_TAG.to_string(), t.id.clone()), ("env".to_string(), "prod".to_string())];
            out.push((r.arn(account, region), tags));
        }
    }
    if fleet.is_platform_account(account) {
        let platform = vec![("team".to_string(), "platform".to_string())];
        out.push((format!("arn:aws:rds:{region}:{account}:cluster:platform-db"), platform.clone()));
        out.push((format!("arn:aws:sqs:{region}:{account}:platform-jobs"), platform));
    }
    out
}

/// `service[:type]` of an ARN: `arn:aws:rds:r:a:db:name` is `rds` and
/// `rds:db`; `.../loadbalancer/app/x/y` is `elasticloadbalancing:loadbalancer`.
fn matches_type(arn: &str, filter: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some(_), Some(_), Some(service), Some(_), Some(_), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let kind = resource.split([':', '/']).next().unwrap_or("");
    match filter.split_once(':') {
        None => filter == service,
        // SQS and other services whose ARN has no resource type.
        Some((s, k)) => s == service && (k == kind || resource.split([':', '/']).count() == 1 && k.is_empty()),
    }
}

/// This operation's paging tokens ([`page_token`]).
const TOKEN_SALT: u64 = 0x7461_6767;

/// A list of strings (absent is empty), as the JSON protocol types it: any
/// other shape is refused.
fn strings(v: Option<&Value>, name: &str) -> Result<Vec<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .ok_or_else(|| invalid(format!("{name} must be a list")))?
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| invalid(format!("each of {name} must be a string"))))
            .collect(),
    }
}

fn get_resources(call: &Call<'_>, input: &Value) -> Result<Reply, ApiError> {
    let fleet = &call.state.fleet;
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(list) = input.get("TagFilters").filter(|v| !v.is_null()) {
        let list = list.as_array().ok_or_else(|| invalid("TagFilters must be a list"))?;
        if list.len() > MAX_TAG_FILTERS {
            return Err(invalid(format!("TagFilters can include up to {MAX_TAG_FILTERS} keys")));
        }
        for f in list {
            let key = f.get("Key").and_then(Value::as_str).unwrap_or("");
            if key.is_empty() || key.len() > 128 {
                return Err(invalid("TagFilter Key must be 1 to 128 characters"));
            }
            let values = strings(f.get("Values"), "TagFilter Values")?;
            if values.len() > MAX_TAG_VALUES {
                return Err(invalid(format!("each TagFilter key can include up to {MAX_TAG_VALUES} values")));
            }
            filters.push((key.to_string(), values));
        }
    }
    let types = strings(input.get("ResourceTypeFilters"), "ResourceTypeFilters")?;
    let per_page = match input.get("ResourcesPerPage") {
        None | Some(Value::Null) => DEFAULT_PER_PAGE,
        Some(v) => v.as_i64().ok_or_else(|| invalid("ResourcesPerPage must be an integer"))?,
    };
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(invalid(format!("ResourcesPerPage must be between 1 and {MAX_PER_PAGE}")));
    }
    let all: Vec<(String, Vec<(String, String)>)> = tagged(fleet, &call.caller.account, &call.region)
        .into_iter()
        .filter(|(arn, tags)| {
            filters
                .iter()
                .all(|(key, values)| tags.iter().any(|(k, v)| k == key && (values.is_empty() || values.contains(v))))
                && (types.is_empty() || types.iter().any(|f| matches_type(arn, f)))
        })
        .collect();
    let seed = fleet.options.seed;
    let offset = match input.get("PaginationToken").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => parse_page_token(seed, TOKEN_SALT, t)
            .filter(|o| *o <= all.len())
            .ok_or_else(|| invalid("The specified pagination token is not valid"))?,
    };
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(per_page as usize)
        .map(|(arn, tags)| {
            let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
            json!({ "ResourceARN": arn, "Tags": tags })
        })
        .collect();
    let next = offset + per_page as usize;
    let token = if next < all.len() { page_token(seed, TOKEN_SALT, next) } else { String::new() };
    Ok(Reply::Json(json!({ "PaginationToken": token, "ResourceTagMappingList": page })))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn resource_type_filters_match_the_arn_service_and_type() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/a/0123";
        assert!(matches_type(lb, "elasticloadbalancing"));
        assert!(matches_type(lb, "elasticloadbalancing:loadbalancer"));
        assert!(!matches_type(lb, "elasticloadbalancing:targetgroup"));
        assert!(matches_type("arn:aws:rds:us-east-1:111111111111:db:orders", "rds:db"));
        assert!(!matches_type("arn:aws:rds:us-east-1:111111111111:cluster:x", "rds:db"));
        assert!(matches_type("arn:aws:sqs:us-east-1:111111111111:jobs", "sqs"));
    }

    #[test]
    fn another_operations_token_is_refused() {
        assert_eq!(parse_page_token(7, TOKEN_SALT, &page_token(7, TOKEN_SALT, 50)), Some(50));
        assert_eq!(parse_page_token(7, TOKEN_SALT, &page_token(7, 0x7061_6765, 50)), None);
    }
}
