//! Onboarding: can fleetdeck read each tenant, and what must the tenant grant?
//!
//! [`run`] checks a validated fleet against AWS, cheaply: per tenant, its role
//! is assumed (once; credentials are per role, not per region), then in each
//! of its regions one read per service fleetdeck uses: CloudWatch
//! `GetMetricData` with one query over ten minutes (one metric: $0.00001 at
//! list price) and Logs `DescribeLogGroups` with `limit` 1 for each entry of
//! the tenant's log group selector. Cost Explorer bills $0.01 per request, so
//! its one `GetCostAndUsage` from the payer is made only when asked
//! ([`CheckOptions::cost`]). Every call is one of [`READ_ACTIONS`] and is
//! counted in the ledger like a sync's.
//!
//! Each failure keeps the [`Failure`] that [`crate::aws::classify`] made of
//! the AWS error and adds what a check knows and a sync's classifier does not:
//! which [`Problem`] it is (an `InvalidClientTokenId` from a region, with
//! credentials that just worked elsewhere, is that region not being enabled,
//! not bad base credentials) and a fix in the terms of the two policies
//! [`permissions_policy`] and [`trust_policy`] generate for `fleetdeck policy`.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use aws_sdk_sts::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::DisplayErrorContext;

use crate::aws::{classify, classify_text, AwsAccess, Failure, READ_ACTIONS};
use crate::catalog::Catalog;
use crate::clock::{DAY, HOUR};
use crate::collect::{self, QuerySpec};
use crate::fleet::{Fleet, Tenant};
use crate::model::SourceStatus;
use crate::plan::Target;

/// Stands in for the trusted account when it is not given: fleetdeck does
/// not look itself up (`sts:GetCallerIdentity` is not among [`READ_ACTIONS`]).
pub const ACCOUNT_PLACEHOLDER: &str = "<YOUR-FLEETDECK-ACCOUNT-ID>";
/// Stands in for the tenant's ExternalId when it is not given.
pub const EXTERNAL_ID_PLACEHOLDER: &str = "<TENANT-EXTERNAL-ID>";

/// Whose role a permissions policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantor {
    /// A tenant account: CloudWatch metrics and alarms, Logs Insights,
    /// its tagged resources.
    Tenant,
    /// The provider's monitoring account (`[monitoring]`): CloudWatch and
    /// Logs Insights over the linked accounts, and its sinks' links.
    Monitoring,
    /// The management (payer) account: Cost Explorer and Organizations.
    /// A tenant never grants these: a customer-owned account would let the
    /// vendor read its bill.
    Payer,
}

impl Grantor {
    /// The actions of [`READ_ACTIONS`] this role needs.
    pub fn actions(self) -> Vec<&'static str> {
        let service = |a: &str| a.split(':').next().unwrap_or_default().to_string();
        let wanted: &[&str] = match self {
            Grantor::Tenant => &["cloudwatch", "logs", "tag"],
            Grantor::Payer => &["ce", "organizations"],
            Grantor::Monitoring => &["cloudwatch", "logs", "oam"],
        };
        READ_ACTIONS.iter().copied().filter(|a| wanted.contains(&service(a).as_str())).collect()
    }
}

/// The permissions policy a tenant (or the payer) attaches to the role it
/// creates for fleetdeck: its share of [`READ_ACTIONS`], the list the inline
/// session policy on every AssumeRole is limited to
/// ([`crate::aws::session_policy`]).
pub fn permissions_policy(grantor: Grantor) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": "FleetdeckReadOnly", "Effect": "Allow", "Action": grantor.actions(), "Resource": "*" }]
    })
}

/// The role's trust policy: `principal` (see [`trusted_principal`]) may
/// assume it, and only with the tenant's ExternalId (the confused-deputy
/// guard); a placeholder stands in for an ExternalId not given.
/// The payer role's trust policy: fleetdeck assumes `payer_role_arn`
/// without an ExternalId (it is the provider's own account, not a
/// customer's), so the policy demands none, or the role could never be
/// assumed.
pub fn payer_trust_policy(principal: &str) -> Value {
    let mut policy = trust_policy(principal, None);
    if let Some(statement) = policy["Statement"][0].as_object_mut() {
        statement.remove("Condition");
    }
    policy
}

pub fn trust_policy(principal: &str, external_id: Option<&str>) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "FleetdeckAssumeRole",
            "Effect": "Allow",
            "Principal": { "AWS": principal },
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            "Condition": { "StringEquals": { "sts:ExternalId": external_id.unwrap_or(EXTERNAL_ID_PLACEHOLDER) } }
        }]
    })
}

/// Stands in for the accounts allowed to link when none are given.
pub const LINKED_ACCOUNT_PLACEHOLDER: &str = "<TENANT-ACCOUNT-ID>";

/// What a tenant's link shares with the monitoring account: its metrics
/// and its log groups (OAM resource types, CreateLink, OAM API Reference).
pub const LINK_RESOURCE_TYPES: [&str; 2] = ["AWS::CloudWatch::Metric", "AWS::Logs::LogGroup"];

/// The policy of the monitoring account's sink (PutSinkPolicy, OAM API
/// Reference): `accounts` may link to it, sharing metrics and log groups
/// and nothing else. A placeholder stands in when none are given.
pub fn sink_policy(accounts: &[String]) -> Value {
    let principals: Vec<&str> = if accounts.is_empty() {
        vec![LINKED_ACCOUNT_PLACEHOLDER]
    } else {
        accounts.iter().map(String::as_str).collect()
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": principals },
            "Action": ["oam:CreateLink", "oam:UpdateLink"],
            "Resource": "*",
            "Condition": { "ForAllValues:StringEquals": { "oam:ResourceTypes": LINK_RESOURCE_TYPES } }
        }]
    })
}

/// The principal a trust policy names: a 12-digit account becomes its root
/// (any identity of that account that its own IAM allows), an IAM role or
/// user ARN is kept as given (only that identity), none is the placeholder.
pub fn trusted_principal(account: Option<&str>) -> Result<String, String> {
    let Some(a) = account else {
        return Ok(format!("arn:aws:iam::{ACCOUNT_PLACEHOLDER}:root"));
    };
    let digits = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(a) {
        return Ok(format!("arn:aws:iam::{a}:root"));
    }
    let parts: Vec<&str> = a.splitn(6, ':').collect();
    let arn_ok = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && digits(parts[4])
        && (parts[5] == "root" || parts[5].starts_with("role/") || parts[5].starts_with("user/"));
    if arn_ok {
        Ok(a.to_string())
    } else {
        Err(format!(
            "{a:?} is neither a 12-digit AWS account id nor an IAM role or user ARN like arn:aws:iam::123456789012:role/Ops"
        ))
    }
}

/// An ExternalId as AWS accepts it (the fleet file's rule).
pub fn valid_external_id(x: &str) -> bool {
    (2..=1224).contains(&x.len()) && x.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c))
}

/// What one row checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// AssumeRole into the tenant's role with its ExternalId.
    Credentials,
    /// `cloudwatch:GetMetricData` on the tenant's catalog metrics over the
    /// last 24 hours: allowed, and its selector finds data.
    Cloudwatch,
    /// `cloudwatch:DescribeAlarms` and `cloudwatch:DescribeAlarmHistory`,
    /// one record each.
    Alarms,
    /// `logs:DescribeLogGroups` per log group selector entry, then one
    /// `logs:StartQuery` over a minute of the first group, stopped at once.
    Logs,
    /// `ce:GetCostAndUsage` from the payer, once (opt-in: $0.01).
    Cost,
    /// `tag:GetResources`: the resources carrying the tenant's cost
    /// allocation tag, for tenants whose dimension values it supplies.
    Tags,
    /// The monitoring account (`[monitoring]`): its role, and its sink in
    /// each region (`oam:ListSinks`).
    Sink,
    /// A linked tenant's account in one region: attached to the sink
    /// (`oam:ListAttachedLinks`), sharing metrics and log groups.
    Link,
}

impl Probe {
    pub fn as_str(self) -> &'static str {
        match self {
            Probe::Credentials => "credentials",
            Probe::Cloudwatch => "cloudwatch",
            Probe::Alarms => "alarms",
            Probe::Logs => "logs",
            Probe::Cost => "cost",
            Probe::Tags => "tags",
            Probe::Sink => "sink",
            Probe::Link => "link",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// Not checked, and why (nothing to check, or not asked to).
    Skipped,
    Failed,
}

/// What is wrong, as far as the error tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// AssumeRole refused: the role does not exist, its trust policy does not
    /// name this identity, the ExternalId differs, or this identity may not
    /// call sts:AssumeRole on it. AWS answers all four alike, on purpose.
    TrustPolicy,
    /// The role's permissions policy does not allow an action fleetdeck calls.
    MissingAction,
    /// An explicit Deny (a service control policy, a permissions boundary or
    /// the role's own policies) blocks an action: allowing it will not help.
    ExplicitDeny,
    /// The region is not enabled in the account (opt-in regions).
    RegionNotEnabled,
    /// The service is not turned on in the account (Cost Explorer).
    ServiceNotEnabled,
    /// No log group matches the tenant's `selector.log_groups`.
    NoLogGroup,
    /// The monitoring account has no sink in the region.
    NoSink,
    /// The tenant's account is not linked to the sink in the region, or
    /// its link does not share metrics or log groups.
    NotLinked,
    /// The calls work, but no catalog metric has data for the tenant's
    /// `selector.dimensions` in the last 24 hours (a typo, a resource that
    /// does not exist, or a dimension set the service does not publish).
    NoData,
    /// Your own (base) credentials are missing or invalid.
    BaseIdentity,
    Expired,
    Throttled,
    /// No answer at all: network, VPN, proxy or `endpoint_url`.
    Unreachable,
    /// The base identity has no credentials (SSO not logged in, unknown
    /// profile, none configured): nothing was sent.
    NoCredentials,
    Other,
}

impl Problem {
    /// A few words for the table.
    pub fn label(self) -> &'static str {
        match self {
            Problem::TrustPolicy => "cannot assume role (trust policy / ExternalId)",
            Problem::MissingAction => "missing IAM action",
            Problem::ExplicitDeny => "denied explicitly",
            Problem::RegionNotEnabled => "region not enabled",
            Problem::ServiceNotEnabled => "service not enabled",
            Problem::NoLogGroup => "no matching log group",
            Problem::NoSink => "no sink in the monitoring account",
            Problem::NotLinked => "account not linked to the sink",
            Problem::NoData => "no data for the selector",
            Problem::BaseIdentity => "base credentials invalid",
            Problem::Expired => "credentials expired",
            Problem::Throttled => "throttled",
            Problem::Unreachable => "endpoint unreachable",
            Problem::NoCredentials => "no credentials",
            Problem::Other => "error",
        }
    }
}

/// One check of one tenant (and region).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRow {
    /// The tenant id; `*` for the fleet-wide cost check.
    pub tenant: String,
    /// `*` where the check is not regional (credentials, cost).
    pub region: String,
    pub check: Probe,
    pub result: Verdict,
    /// Failures only.
    pub problem: Option<Problem>,
    /// Failures only: the status the views show for such a failure
    /// (`access_denied`, `unreachable`, `not_configured`, ...).
    pub status: Option<&'static str>,
    /// Ok: what was found. Skipped: why. Failed: the AWS error, as AWS
    /// worded it (untrusted text: clean it before printing to a terminal).
    pub message: String,
    /// Failures only: what to change, and where.
    pub fix: Option<String>,
}

impl CheckRow {
    fn ok(tenant: &str, region: &str, check: Probe, message: String) -> CheckRow {
        CheckRow {
            tenant: tenant.into(),
            region: region.into(),
            check,
            result: Verdict::Ok,
            problem: None,
            status: None,
            message,
            fix: None,
        }
    }

    fn skipped(tenant: &str, region: &str, check: Probe, why: String) -> CheckRow {
        CheckRow { result: Verdict::Skipped, ..CheckRow::ok(tenant, region, check, why) }
    }

    fn failed(tenant: &str, region: &str, check: Probe, (problem, f): (Problem, Failure)) -> CheckRow {
        CheckRow {
            tenant: tenant.into(),
            region: region.into(),
            check,
            result: Verdict::Failed,
            problem: Some(problem),
            status: Some(f.status.as_str()),
            message: f.message,
            fix: Some(f.remediation),
        }
    }

    pub fn is_failed(&self) -> bool {
        self.result == Verdict::Failed
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Only this tenant (by id); every tenant when `None`.
    pub tenant: Option<String>,
    /// Also make the one Cost Explorer request ($0.01) from the payer.
    pub cost: bool,
    /// Epoch seconds: the end of the CloudWatch and Cost Explorer windows.
    pub now: i64,
    /// Tenants checked at once (each account-region stays paced).
    pub concurrency: usize,
}

impl CheckOptions {
    pub fn at(now: i64) -> CheckOptions {
        CheckOptions { tenant: None, cost: false, now, concurrency: 8 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no tenant {id:?} in the fleet (its tenants: {known})")]
    UnknownTenant { id: String, known: String },
}

/// Check every tenant (or the one asked for), then the payer. Rows come in
/// fleet-file order: per tenant its credentials, then per region its
/// CloudWatch and Logs checks; the cost row last. A tenant whose role cannot
/// be assumed has only its credentials row: nothing else can be tried.
pub async fn run(
    fleet: &Fleet,
    catalog: &Catalog,
    aws: &AwsAccess,
    opts: &CheckOptions,
) -> Result<Vec<CheckRow>, CheckError> {
    let tenants: Vec<&Tenant> = match &opts.tenant {
        None => fleet.tenants.iter().collect(),
        Some(id) => match fleet.tenant(id) {
            Some(t) => vec![t],
            None => {
                let known: Vec<&str> = fleet.tenants.iter().map(|t| t.id.as_str()).collect();
                return Err(CheckError::UnknownTenant { id: id.clone(), known: known.join(", ") });
            }
        },
    };
    let mut rows = Vec::new();
    let monitoring = match &fleet.monitoring {
        Some(m) => Some(check_monitoring(aws, m, &mut rows).await),
        None => None,
    };
    let monitoring = monitoring.as_ref();
    let jobs = tenants.into_iter().map(|t| check_tenant(aws, fleet, catalog, t, monitoring, opts.now));
    let per_tenant: Vec<Vec<CheckRow>> = stream::iter(jobs).buffered(opts.concurrency.max(1)).collect().await;
    rows.extend(per_tenant.into_iter().flatten());
    if let Some(payer) = &fleet.payer_account {
        rows.push(if opts.cost {
            check_cost(fleet, aws, payer, opts.now).await
        } else {
            CheckRow::skipped(
                "*",
                "*",
                Probe::Cost,
                format!(
                    "not checked: pass --cost to make one GetCostAndUsage request as payer {payer} (AWS bills $0.01)"
                ),
            )
        });
    }
    Ok(rows)
}

/// What `check` learnt of the monitoring account: its credentials, and per
/// region its sink and the links attached to it.
struct MonitoringSeen<'a> {
    monitoring: &'a crate::fleet::Monitoring,
    creds: Option<SharedCredentialsProvider>,
    /// Per region: the sink's ARN and its links, or why they are unknown.
    sinks: BTreeMap<String, Result<(String, Vec<collect::AttachedLink>), Failure>>,
}

impl MonitoringSeen<'_> {
    fn target(&self, region: &str) -> Target {
        Target::monitoring(self.monitoring, region)
    }
}

/// The monitoring account's role, then its sink in each region of
/// `[monitoring]` and the links attached to it: rows for tenant `*`.
async fn check_monitoring<'a>(
    aws: &AwsAccess,
    m: &'a crate::fleet::Monitoring,
    rows: &mut Vec<CheckRow>,
) -> MonitoringSeen<'a> {
    let mut seen = MonitoringSeen { monitoring: m, creds: None, sinks: BTreeMap::new() };
    let creds = aws.role(&m.role_arn, m.external_id.as_deref()).await;
    if let Err(failed) = assume(aws, &creds, &m.role_arn, m.external_id.as_deref()).await {
        rows.push(CheckRow::failed("*", "*", Probe::Sink, failed));
        return seen;
    }
    rows.push(CheckRow::ok("*", "*", Probe::Sink, format!("assumed the monitoring account's role {}", m.role_arn)));
    for region in &m.regions {
        let target = seen.target(region);
        let client = aws.oam(&creds, region);
        let found = match collect::sinks(&client, aws, &target).await {
            Ok(sinks) => match sinks.first() {
                Some(sink) => match collect::attached_links(&client, aws, &target, sink).await {
                    Ok(links) => Ok((sink.clone(), links)),
                    Err(f) => Err(f),
                },
                None => Err(Failure {
                    status: SourceStatus::NotConfigured,
                    message: format!("the monitoring account {} has no sink in {region}", m.account),
                    remediation: format!(
                        "in account {}, region {region}: `aws oam create-sink --name fleetdeck`, then give it the \
                         policy `fleetdeck policy --monitoring --only sink` prints (`aws oam put-sink-policy`); or \
                         remove {region} from monitoring.regions (fleet file line {})",
                        m.account, m.line
                    ),
                }),
            },
            Err(f) => Err(f),
        };
        rows.push(match &found {
            Ok((sink, links)) => {
                CheckRow::ok("*", region, Probe::Sink, format!("sink {sink}: {} linked accounts", links.len()))
            }
            Err(f) if f.status == SourceStatus::NotConfigured => {
                CheckRow::failed("*", region, Probe::Sink, (Problem::NoSink, f.clone()))
            }
            Err(f) => CheckRow::failed("*", region, Probe::Sink, (problem_of_status(f), f.clone())),
        });
        seen.sinks.insert(region.clone(), found);
    }
    seen.creds = Some(creds);
    seen
}

/// Is the tenant's account linked to the sink in `region`, sharing what
/// fleetdeck reads? The fix is the command the tenant runs.
fn check_link(seen: &MonitoringSeen<'_>, t: &Tenant, region: &str) -> CheckRow {
    let (sink, links) = match seen.sinks.get(region) {
        Some(Ok(found)) => found,
        Some(Err(_)) | None => {
            return CheckRow::skipped(&t.id, region, Probe::Link, "not checked: the sink could not be read".into())
        }
    };
    let create = format!(
        "in account {}, region {region}: `aws oam create-link --sink-identifier {sink} --label-template \
         '$AccountName' --resource-types {}` (the sink's policy must let the account link: `fleetdeck policy \
         --monitoring --linked-account {}`)",
        t.account,
        LINK_RESOURCE_TYPES.join(" "),
        t.account
    );
    let Some(link) = links.iter().find(|l| l.account == t.account) else {
        let f = Failure {
            status: SourceStatus::NotConfigured,
            message: format!(
                "account {} is not linked to the monitoring account's sink in {region}: its metrics and logs read \
                 as empty there",
                t.account
            ),
            remediation: create,
        };
        return CheckRow::failed(&t.id, region, Probe::Link, (Problem::NotLinked, f));
    };
    let missing: Vec<&str> =
        LINK_RESOURCE_TYPES.iter().copied().filter(|r| !link.resource_types.iter().any(|x| x == r)).collect();
    if !missing.is_empty() {
        let f = Failure {
            status: SourceStatus::NotConfigured,
            message: format!(
                "account {}'s link ({}) does not share {} with the monitoring account in {region}",
                t.account,
                link.label,
                missing.join(" or ")
            ),
            remediation: format!(
                "in account {}, region {region}: `aws oam update-link --identifier {} --resource-types {}`",
                t.account,
                link.link_arn,
                LINK_RESOURCE_TYPES.join(" ")
            ),
        };
        return CheckRow::failed(&t.id, region, Probe::Link, (Problem::NotLinked, f));
    }
    CheckRow::ok(
        &t.id,
        region,
        Probe::Link,
        format!("linked as {:?}, sharing {}", link.label, link.resource_types.join(", ")),
    )
}

async fn check_tenant(
    aws: &AwsAccess,
    fleet: &Fleet,
    catalog: &Catalog,
    t: &Tenant,
    monitoring: Option<&MonitoringSeen<'_>>,
    now: i64,
) -> Vec<CheckRow> {
    let ext = t.external_id.as_deref();
    let mut rows = Vec::new();
    // A tenant read only through the monitoring account has no role of its
    // own to assume.
    let own = if t.has_role() {
        let creds = aws.role(&t.role_arn, ext).await;
        if let Err(failed) = assume(aws, &creds, &t.role_arn, ext).await {
            return vec![CheckRow::failed(&t.id, "*", Probe::Credentials, failed)];
        }
        let mut assumed = format!("assumed {}", t.role_arn);
        if aws.source_identity_refused(&t.role_arn) {
            assumed.push_str(
                "; its trust policy does not allow sts:SetSourceIdentity, so the tenant's CloudTrail shows the \
                 session name only, not who looked: add \"sts:SetSourceIdentity\" to the trust policy's Action \
                 (`fleetdeck policy` prints it)",
            );
        }
        rows.push(CheckRow::ok(&t.id, "*", Probe::Credentials, assumed));
        Some(creds)
    } else {
        let how = match monitoring {
            Some(m) if m.creds.is_some() => format!(
                "no role of its own: read through the monitoring account {}; alarms in its own account are not \
                 visible (links share metrics and logs, not alarms)",
                m.monitoring.account
            ),
            _ => {
                return vec![CheckRow::skipped(
                    &t.id,
                    "*",
                    Probe::Credentials,
                    "not checked: it is read through the monitoring account, whose role could not be assumed".into(),
                )]
            }
        };
        rows.push(CheckRow::ok(&t.id, "*", Probe::Credentials, how));
        None
    };
    for label in t.regions() {
        let linked = monitoring.filter(|_| fleet.monitoring_for(t, label).is_some());
        let place = t.place(label);
        let region = place.region;
        // Its own account (or its environment's) through its own role:
        // the tag map and alarms there, and everything else when it is not
        // read through the monitoring account.
        let mut own_read: Option<(Target, SharedCredentialsProvider)> = None;
        if !place.role_arn.is_empty() {
            let target = Target {
                account: place.account.to_string(),
                role_arn: place.role_arn.to_string(),
                external_id: place.external_id.map(str::to_string),
                region: region.to_string(),
            };
            // Another environment's account is reached through its own role:
            // assumed here, its row in that environment's region.
            if place.role_arn == t.role_arn {
                own_read = own.clone().map(|creds| (target, creds));
            } else {
                let other = aws.role(place.role_arn, place.external_id).await;
                match assume(aws, &other, place.role_arn, place.external_id).await {
                    Ok(()) => {
                        rows.push(CheckRow::ok(
                            &t.id,
                            label,
                            Probe::Credentials,
                            format!("assumed {}", place.role_arn),
                        ));
                        own_read = Some((target, other));
                    }
                    Err(failed) => rows.push(CheckRow::failed(&t.id, label, Probe::Credentials, failed)),
                }
            }
        }
        // The values the fleet file leaves out, found by the tenant's tag.
        let mut dims = t.dimensions_in(label).clone();
        if let Some((target, creds)) = own_read.as_ref().filter(|_| crate::sync::needs_tags(t, catalog)) {
            let client = aws.tagging(creds, region);
            let ids = [t.id.clone()];
            match collect::tagged_resources(&client, aws, target, &fleet.cost_tag, &ids, 100).await {
                Ok(found) => {
                    let listed: Vec<String> = found.iter().map(|r| format!("{} {}", r.kind(), r.value)).collect();
                    let text = format!(
                        "found by tag {} = {:?}: {}{}",
                        fleet.cost_tag,
                        t.id,
                        crate::tags::describe(&found),
                        if listed.is_empty() { String::new() } else { format!(" ({})", listed.join(", ")) }
                    );
                    rows.push(CheckRow::ok(&t.id, label, Probe::Tags, text));
                    for (k, v) in crate::tags::values(&found) {
                        dims.entry(k).or_insert(v);
                    }
                }
                Err(f) => rows.push(CheckRow::failed(&t.id, label, Probe::Tags, read_failure(f, t, label))),
            }
        }
        // Metrics and logs: through the monitoring account when linked.
        let reader = match linked {
            Some(m) => {
                let link = check_link(m, t, label);
                let ok = !link.is_failed();
                rows.push(link);
                match (&m.creds, ok) {
                    (Some(creds), true) => Some((m.target(region), creds.clone(), Some(t.account.as_str()))),
                    _ => None,
                }
            }
            None => own_read.as_ref().map(|(target, creds)| (target.clone(), creds.clone(), None)),
        };
        if let Some((target, creds, account_id)) = &reader {
            let cw = aws.cloudwatch(creds, &target.role_arn, region);
            rows.push(match check_cloudwatch(&cw, aws, target, *account_id, catalog, t, &dims, now).await {
                Ok(found) => CheckRow::ok(&t.id, label, Probe::Cloudwatch, found),
                Err(MetricsFailure::Call(f)) => {
                    CheckRow::failed(&t.id, label, Probe::Cloudwatch, read_failure(f, t, label))
                }
                Err(MetricsFailure::NoData(f)) => {
                    CheckRow::failed(&t.id, label, Probe::Cloudwatch, (Problem::NoData, f))
                }
            });
        }
        // Alarms: its own account's when it has a role there, else those
        // the monitoring account holds.
        let alarms_from = match (&own_read, &reader) {
            (Some((target, creds)), _) => Some((target, creds)),
            (None, Some((target, creds, Some(_)))) => Some((target, creds)),
            _ => None,
        };
        if let Some((target, creds)) = alarms_from {
            let cw = aws.cloudwatch(creds, &target.role_arn, region);
            rows.push(match check_alarms(&cw, aws, target).await {
                Ok(found) if own_read.is_none() => CheckRow::ok(
                    &t.id,
                    label,
                    Probe::Alarms,
                    format!(
                        "{found} in the monitoring account; alarms in the tenant's own account are not visible \
                         without a role there"
                    ),
                ),
                Ok(found) => CheckRow::ok(&t.id, label, Probe::Alarms, found),
                Err(f) => CheckRow::failed(&t.id, label, Probe::Alarms, read_failure(f, t, label)),
            });
        }
        let Some((target, creds, account_id)) = &reader else { continue };
        if t.selector.log_groups.is_empty() {
            rows.push(CheckRow::skipped(
                &t.id,
                label,
                Probe::Logs,
                "no selector.log_groups in the fleet file: fleetdeck reads no logs for this tenant".into(),
            ));
            continue;
        }
        let logs = aws.logs(creds, &target.role_arn, region);
        rows.push(match check_logs(&logs, aws, target, *account_id, t).await {
            Ok(found) => CheckRow::ok(&t.id, label, Probe::Logs, found),
            Err(LogsFailure::Call(f)) => CheckRow::failed(&t.id, label, Probe::Logs, read_failure(f, t, label)),
            Err(LogsFailure::NoMatch(f)) => CheckRow::failed(&t.id, label, Probe::Logs, (Problem::NoLogGroup, f)),
        });
    }
    rows
}

/// A selector that finds no datapoint of any catalog metric in the last
/// `hours` (`check` and the sync say it alike): the fix names the line.
pub fn no_data(t: &Tenant, account: &str, region: &str, hours: i64, metrics: &[String]) -> Failure {
    let mut dims: Vec<String> = t
        .dimensions_in(region)
        .iter()
        .map(|(k, v)| match &v[..] {
            [one] => format!("{k} = {one:?}"),
            many => format!("{k} = {many:?}"),
        })
        .collect();
    if dims.is_empty() {
        dims.push("no dimension".into());
    }
    Failure {
        status: SourceStatus::NotConfigured,
        message: format!(
            "GetMetricData allowed, but no datapoints in the last {hours} h in account {account} region {region} for \
             {} with {}",
            metrics.join(", "),
            dims.join(", ")
        ),
        remediation: format!(
            "check selector.dimensions of tenant {:?} (fleet file line {}): each value must be the one CloudWatch \
             shows for the tenant's resource in {region} (a typo, a resource that no longer exists, or another \
             region reads as no data)",
            t.id, t.line
        ),
    }
}

/// No datapoint of a linked tenant-region, read through the monitoring
/// account: an account not linked there (or whose link does not share
/// metrics) reads as empty, not as an error, so the first thing to look at
/// is the link; then the selector, as for [`no_data`].
pub fn no_linked_data(
    t: &Tenant,
    m: &crate::fleet::Monitoring,
    region: &str,
    hours: i64,
    metrics: &[String],
) -> Failure {
    let plain = no_data(t, &t.account, region, hours, metrics);
    Failure {
        status: SourceStatus::NotConfigured,
        message: format!(
            "{} (read through the monitoring account {}: is account {} linked to its sink in {region}, sharing \
             metrics?)",
            plain.message, m.account, t.account
        ),
        remediation: format!(
            "`fleetdeck check --tenant {}` shows the account's link and the command that makes it; if it is \
             linked, {}",
            t.id, plain.remediation
        ),
    }
}

/// A tenant's log group selector that matches nothing in an account-region
/// (the sync and `check` say it alike): the fix names the fleet-file line.
pub fn no_log_group(t: &Tenant, account: &str, region: &str, missing: &[String]) -> Failure {
    let names: Vec<String> = missing.iter().map(|m| format!("{m:?}")).collect();
    Failure {
        status: SourceStatus::NotConfigured,
        message: format!("no log group in account {account} region {region} matches {}", names.join(", ")),
        remediation: format!(
            "create the log group there, or fix selector.log_groups of tenant {:?} (fleet file line {}): a name, \
             or a prefix ending in '*'",
            t.id, t.line
        ),
    }
}

enum MetricsFailure {
    /// The call failed.
    Call(Failure),
    /// The calls worked; the selector finds no data.
    NoData(Failure),
}

/// One GetMetricData over the last 24 hours (hourly, so it stays one small
/// call) of every catalog metric of the tenant's model with its selector's
/// dimension values: whether the call is allowed, and whether the selector
/// finds the tenant's data. A typo in a dimension value reads as "no data"
/// in every view after a sync; here it is named before one.
#[allow(clippy::too_many_arguments)]
async fn check_cloudwatch(
    client: &aws_sdk_cloudwatch::Client,
    aws: &AwsAccess,
    target: &Target,
    account_id: Option<&str>,
    catalog: &Catalog,
    t: &Tenant,
    dims: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> Result<String, MetricsFailure> {
    let end = now - now.rem_euclid(HOUR) + HOUR;
    let specs: Vec<_> =
        catalog.metrics_for(t.model).filter(|spec| spec.dimensions.iter().all(|d| dims.contains_key(d))).collect();
    // Each metric of the tenant's first resource: presence is the question.
    let queries: Vec<QuerySpec> = specs
        .iter()
        .map(|spec| {
            let first = spec.dimensions.iter().filter_map(|d| Some((d.clone(), dims.get(d)?.first()?.clone())));
            // Percentiles are not summed: any statistic shows presence.
            let mut q = QuerySpec::one(&spec.namespace, &spec.name, first.collect(), "SampleCount", HOUR as u32);
            q.account_id = account_id.map(str::to_string);
            q
        })
        .collect();
    if queries.is_empty() {
        // Nothing of the tenant's to look for: whether the call is allowed
        // is still worth knowing, on any metric.
        let any = QuerySpec::one("AWS/Logs", "IncomingBytes", BTreeMap::new(), "Sum", 60);
        let end = now - now.rem_euclid(60);
        collect::metric_data(client, aws, target, &[any], end - 600, end).await.map_err(MetricsFailure::Call)?;
        return Ok("GetMetricData allowed (no catalog metric has all its dimensions in the selector)".into());
    }
    let found =
        collect::metric_data(client, aws, target, &queries, end - DAY, end).await.map_err(MetricsFailure::Call)?.points;
    let with_data: Vec<&str> =
        specs.iter().zip(&found).filter(|(_, points)| !points.is_empty()).map(|(s, _)| s.key.as_str()).collect();
    let without: Vec<String> = specs
        .iter()
        .zip(&found)
        .filter(|(_, points)| points.is_empty())
        .map(|(s, _)| format!("{} ({}/{})", s.key, s.namespace, s.name))
        .collect();
    if with_data.is_empty() {
        if t.standby_regions.contains(&target.region) {
            return Ok(format!(
                "standby: no datapoints in the last 24 h, as a failover region is until it is needed (GetMetricData \
                 allowed; {} checked)",
                without.join(", ")
            ));
        }
        let account = account_id.unwrap_or(&target.account);
        return Err(MetricsFailure::NoData(no_data(t, account, &target.region, 24, &without)));
    }
    let mut out = format!("data for {} of {} catalog metrics in the last 24 h", with_data.len(), specs.len());
    if !without.is_empty() {
        out.push_str(&format!(" (none for {})", without.join(", ")));
    }
    Ok(out)
}

/// DescribeAlarms and DescribeAlarmHistory, one record each: both are in
/// the policy, and a role without either loses alarms or their timeline.
async fn check_alarms(
    client: &aws_sdk_cloudwatch::Client,
    aws: &AwsAccess,
    target: &Target,
) -> Result<String, Failure> {
    let alarms = aws
        .send(
            &target.account,
            &target.region,
            "cloudwatch:DescribeAlarms",
            client.describe_alarms().max_records(1).send(),
        )
        .await
        .map_err(|e| classify(&e))?;
    // The question is access: a refusal fails the check, anything else
    // (an API in a brownout, an emulator without it) is said, not failed.
    let history = match aws
        .send(
            &target.account,
            &target.region,
            "cloudwatch:DescribeAlarmHistory",
            client.describe_alarm_history().max_records(1).send(),
        )
        .await
    {
        Ok(_) => "DescribeAlarmHistory allowed".to_string(),
        Err(e) => {
            let f = classify(&e);
            if matches!(f.status, SourceStatus::AccessDenied | SourceStatus::Expired | SourceStatus::NoCredentials) {
                return Err(f);
            }
            format!("DescribeAlarmHistory did not answer ({})", f.message)
        }
    };
    let some = !alarms.metric_alarms().is_empty() || !alarms.composite_alarms().is_empty();
    Ok(format!("DescribeAlarms allowed{}; {history}", if some { "" } else { " (no alarms in this region)" }))
}

enum LogsFailure {
    /// The call failed.
    Call(Failure),
    /// The calls worked; the selector names groups that are not there.
    NoMatch(Failure),
}

/// One DescribeLogGroups (`limit` 1) per selector entry: the prefix of a
/// `/acme/*` pattern, or the exact name (AWS lists groups by name, so an
/// exact name, if it exists, is the first group with itself as prefix).
async fn check_logs(
    client: &aws_sdk_cloudwatchlogs::Client,
    aws: &AwsAccess,
    target: &Target,
    linked: Option<&str>,
    t: &Tenant,
) -> Result<String, LogsFailure> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for pattern in &t.selector.log_groups {
        let (prefix, is_prefix) = match pattern.strip_suffix('*') {
            Some(p) => (p, true),
            None => (pattern.as_str(), false),
        };
        let mut request = client.describe_log_groups().log_group_name_prefix(prefix).limit(1);
        if let Some(account) = linked {
            // The linked account's groups, from the monitoring account.
            request = request.include_linked_accounts(true).account_identifiers(account);
        }
        let resp = aws
            .send(&target.account, &target.region, "logs:DescribeLogGroups", request.send())
            .await
            .map_err(|e| LogsFailure::Call(classify(&e)))?;
        let first = resp.log_groups().first().and_then(|g| g.log_group_name());
        match first {
            Some(name) if is_prefix || name == prefix => found.push(name.to_string()),
            _ => missing.push(pattern.clone()),
        }
    }
    if missing.is_empty() {
        // StartQuery, which the triage needs, on a minute of one group,
        // stopped at once (a query is billed by the data it scans: a
        // minute of one group is next to nothing).
        let end = crate::clock::now();
        let started = aws
            .send(
                &target.account,
                &target.region,
                "logs:StartQuery",
                match linked {
                    Some(account) => client.start_query().log_group_identifiers(collect::log_group_arn(
                        &target.region,
                        account,
                        &found[0],
                    )),
                    None => client.start_query().log_group_names(found[0].clone()),
                }
                .start_time(end - 60)
                .end_time(end)
                .query_string("fields @timestamp | limit 1")
                .send(),
            )
            .await
            .map_err(|e| LogsFailure::Call(classify(&e)))?;
        if let Some(id) = started.query_id() {
            // A query that already finished cannot be stopped: fine.
            let _ = aws
                .send(&target.account, &target.region, "logs:StopQuery", client.stop_query().query_id(id).send())
                .await;
        }
        return Ok(format!("log groups found: {}; StartQuery allowed", found.join(", ")));
    }
    Err(LogsFailure::NoMatch(no_log_group(t, linked.unwrap_or(&target.account), &target.region, &missing)))
}

/// One GetCostAndUsage for yesterday, monthly total only, from the payer
/// (through `payer_role_arn` if set, else the base identity, as a sync does).
async fn check_cost(fleet: &Fleet, aws: &AwsAccess, payer: &str, now: i64) -> CheckRow {
    use aws_sdk_costexplorer::types::{DateInterval, Granularity};
    let creds = match aws.payer(fleet.payer_role_arn.as_deref()).await {
        Ok(c) => c,
        Err(f) => return CheckRow::failed("*", "*", Probe::Cost, (payer_problem(&f), f)),
    };
    let client = aws.cost_explorer(&creds);
    let today = crate::clock::day_of(now);
    let yesterday = today - chrono::Duration::days(1);
    let interval = match DateInterval::builder()
        .start(yesterday.format("%Y-%m-%d").to_string())
        .end(today.format("%Y-%m-%d").to_string())
        .build()
    {
        Ok(i) => i,
        Err(e) => {
            let f = Failure {
                status: SourceStatus::Error,
                message: e.to_string(),
                remediation: "a bug: please report it".into(),
            };
            return CheckRow::failed("*", "*", Probe::Cost, (Problem::Other, f));
        }
    };
    let sent = aws
        .send(
            payer,
            "us-east-1",
            "ce:GetCostAndUsage",
            client
                .get_cost_and_usage()
                .time_period(interval)
                .granularity(Granularity::Daily)
                .metrics("UnblendedCost")
                .send(),
        )
        .await;
    match sent {
        Ok(_) => CheckRow::ok("*", "*", Probe::Cost, format!("GetCostAndUsage allowed as payer {payer} ($0.01)")),
        Err(e) => CheckRow::failed("*", "*", Probe::Cost, cost_failure(classify(&e))),
    }
}

fn has(text: &str, codes: &[&str]) -> bool {
    codes.iter().any(|c| text.contains(c))
}

/// Assume the role now (the credentials are kept for the reads that
/// follow), as [`AwsAccess::check`] does but judging by the whole error
/// text: a [`Failure`]'s message is cut at 600 characters, and an error body
/// the SDK could not parse puts AWS's words past that.
async fn assume(
    aws: &AwsAccess,
    creds: &SharedCredentialsProvider,
    role_arn: &str,
    external_id: Option<&str>,
) -> Result<(), (Problem, Failure)> {
    if let Err(f) = aws.base_ready().await {
        return Err((Problem::NoCredentials, f));
    }
    creds.provide_credentials().await.map(|_| ()).map_err(|e| {
        let text = DisplayErrorContext(&e).to_string();
        let mut f = aws.identity().explain(classify_text(&text, Some((role_arn, external_id))));
        if let Some(words) = crate::aws::sts_words(&e) {
            f.message = words;
        }
        assume_failure(f, &text, role_arn, external_id)
    })
}

/// What a failed AssumeRole means. AWS gives one answer for a missing role,
/// a trust policy without this identity, a wrong ExternalId and an identity
/// not allowed sts:AssumeRole, so the fix names all of them, with the
/// command that prints the trust policy.
fn assume_failure(f: Failure, text: &str, role_arn: &str, external_id: Option<&str>) -> (Problem, Failure) {
    if f.status == "access_denied" && text.contains("not authorized to perform: sts:AssumeRole") {
        let account = role_arn.split(':').nth(4).unwrap_or("the tenant's account");
        let remediation = match external_id {
            Some(x) => format!(
                "missing trust relationship or wrong ExternalId: role {role_arn} must exist in account {account}, \
                 its trust policy must let your identity assume it with sts:ExternalId {x:?}, and your identity \
                 must be allowed sts:AssumeRole on it; `fleetdeck policy --external-id {x} --trusted-account \
                 <YOUR-ACCOUNT-ID>` prints the trust policy to paste. If the role already requires another \
                 ExternalId, it is the fleet file's external_id that is wrong: ask the customer for theirs"
            ),
            None => format!(
                "missing trust relationship: role {role_arn} must exist in account {account}, its trust policy \
                 must let your identity assume it (no ExternalId is sent for it), and your identity must be \
                 allowed sts:AssumeRole on it"
            ),
        };
        return (Problem::TrustPolicy, Failure { remediation, ..f });
    }
    let problem = match f.status {
        SourceStatus::AccessDenied => Problem::BaseIdentity,
        _ => problem_of_status(&f),
    };
    (problem, f)
}

/// What a failed regional read means, once the role was assumed.
fn read_failure(f: Failure, t: &Tenant, region: &str) -> (Problem, Failure) {
    let region_off = || {
        format!(
            "enable {} in account {} (AWS console: Account > AWS Regions), or remove it from tenant {:?}'s \
             regions in the fleet file",
            crate::fleet::aws_region(region),
            t.place(region).account,
            t.id
        )
    };
    // The credentials were just issued and accepted by STS: a region that
    // does not recognise them has not been enabled in the account.
    if has(&f.message, &["InvalidClientTokenId", "UnrecognizedClient"])
        || has(&f.message, &["OptInRequired", "RegionDisabled", "not enabled"])
    {
        return (
            Problem::RegionNotEnabled,
            Failure { status: SourceStatus::Unreachable, remediation: region_off(), ..f },
        );
    }
    denied_failure(f)
}

fn cost_failure(f: Failure) -> (Problem, Failure) {
    if f.message.to_lowercase().contains("not enabled for cost explorer") {
        let remediation = "turn on Cost Explorer in the payer account (Billing and Cost Management console); \
                           AWS takes up to 24 hours to prepare the data"
            .to_string();
        return (Problem::ServiceNotEnabled, Failure { remediation, ..f });
    }
    denied_failure(f)
}

fn denied_failure(f: Failure) -> (Problem, Failure) {
    if f.status != "access_denied" {
        return (problem_of_status(&f), f);
    }
    if f.message.contains("explicit deny") {
        let remediation = format!(
            "an explicit Deny blocks this (the error names where: a service control policy, a permissions boundary \
             or the role's own policies); adding the action to the role will not help until that Deny exempts it. \
             AWS said: {}",
            f.message
        );
        return (Problem::ExplicitDeny, Failure { remediation, ..f });
    }
    if f.message.contains("not authorized to perform") {
        // classify names the action as the policy line to add.
        let remediation = format!("{}; `fleetdeck policy` prints the whole permissions policy", f.remediation);
        return (Problem::MissingAction, Failure { remediation, ..f });
    }
    (Problem::Other, f)
}

/// What a refused payer session means: the payer role's trust policy, the
/// IAM user's missing sts:GetFederationToken, or a base identity AWS gives
/// no federation token (SSO, a role) and that so needs `payer_role_arn`.
fn payer_problem(f: &Failure) -> Problem {
    if f.message.contains("sts:AssumeRole") {
        Problem::TrustPolicy
    } else if f.message.contains("sts:GetFederationToken") {
        Problem::MissingAction
    } else if f.message.contains("with session credentials") {
        Problem::BaseIdentity
    } else {
        problem_of_status(f)
    }
}

fn problem_of_status(f: &Failure) -> Problem {
    match f.status {
        SourceStatus::Unreachable => Problem::Unreachable,
        SourceStatus::NoCredentials => Problem::NoCredentials,
        SourceStatus::Expired => Problem::Expired,
        SourceStatus::Throttled => Problem::Throttled,
        SourceStatus::AccessDenied => Problem::BaseIdentity,
        _ => Problem::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::classify_text;

    fn tenant() -> Tenant {
        Tenant {
            id: "acme".into(),
            name: "Acme".into(),
            tier: "gold".into(),
            model: crate::fleet::Model::Silo,
            account: "111111111111".into(),
            role_arn: "arn:aws:iam::111111111111:role/FleetdeckReadOnly".into(),
            external_id: Some("ext-acme".into()),
            home_region: "us-east-1".into(),
            extra_regions: vec!["ap-east-1".into()],
            standby_regions: vec![],
            residency: false,
            redact_personal: false,
            selector: Default::default(),
            line: 0,
            environments: Vec::new(),
            monitored: false,
        }
    }

    #[test]
    fn tenant_and_payer_policies_split_the_session_policy_between_them() {
        let session: Value = serde_json::from_str(&crate::aws::session_policy()).unwrap();
        let actions = |v: &Value| -> Vec<String> {
            v["Statement"][0]["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
        };
        let (tenant, payer) =
            (actions(&permissions_policy(Grantor::Tenant)), actions(&permissions_policy(Grantor::Payer)));
        assert!(
            tenant.iter().all(|a| a.starts_with("cloudwatch:") || a.starts_with("logs:") || a == "tag:GetResources"),
            "{tenant:?}"
        );
        assert!(payer.iter().all(|a| a.starts_with("ce:") || a.starts_with("organizations:")), "{payer:?}");
        let monitoring = actions(&permissions_policy(Grantor::Monitoring));
        assert!(
            monitoring.iter().all(|a| a.starts_with("cloudwatch:") || a.starts_with("logs:") || a.starts_with("oam:")),
            "{monitoring:?}"
        );
        let mut both = [tenant, payer, monitoring.into_iter().filter(|a| a.starts_with("oam:")).collect()].concat();
        both.sort();
        let mut all = actions(&session);
        all.sort();
        assert_eq!(both, all, "every read action is granted by one of the three, oam's only by the monitoring account");
    }

    #[test]
    fn the_trust_policy_names_the_principal_and_demands_the_external_id() {
        let p = trust_policy(&trusted_principal(Some("123456789012")).unwrap(), Some("ext-acme"));
        let s = &p["Statement"][0];
        assert_eq!(s["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
        assert_eq!(s["Action"], json!(["sts:AssumeRole", "sts:SetSourceIdentity"]));
        assert_eq!(s["Condition"]["StringEquals"]["sts:ExternalId"], "ext-acme");
        let p = trust_policy(&trusted_principal(None).unwrap(), None);
        assert_eq!(p["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::<YOUR-FLEETDECK-ACCOUNT-ID>:root");
        assert_eq!(p["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"], EXTERNAL_ID_PLACEHOLDER);
    }

    #[test]
    fn a_trusted_account_is_an_account_id_or_an_iam_arn() {
        assert_eq!(
            trusted_principal(Some("arn:aws:iam::123456789012:role/Ops")).unwrap(),
            "arn:aws:iam::123456789012:role/Ops"
        );
        for bad in ["12345", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:group/ops", "me"] {
            assert!(trusted_principal(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unrecognised_token_in_a_region_after_assume_role_is_that_region_not_enabled() {
        // What AWS answers in an opt-in region the account has not enabled.
        let f =
            classify_text("UnrecognizedClientException: The security token included in the request is invalid.", None);
        assert_eq!(f.status, "access_denied", "alone, the classifier blames the base identity");
        let (problem, f) = read_failure(f, &tenant(), "ap-east-1");
        assert_eq!(problem, Problem::RegionNotEnabled);
        assert_eq!(f.status, "unreachable");
        assert!(f.remediation.starts_with("enable ap-east-1 in account 111111111111"), "{}", f.remediation);
        let (problem, _) = read_failure(classify_text("OptInRequired: region not enabled", None), &tenant(), "x");
        assert_eq!(problem, Problem::RegionNotEnabled);
    }

    #[test]
    fn a_denied_assume_role_points_at_the_trust_policy_and_the_external_id() {
        let text = "AccessDenied: User: arn:aws:iam::999999999999:user/ana is not authorized to perform: \
                    sts:AssumeRole on resource: arn:aws:iam::111111111111:role/FleetdeckReadOnly";
        let role = "arn:aws:iam::111111111111:role/FleetdeckReadOnly";
        let f = classify_text(text, Some((role, Some("ext-acme"))));
        let (problem, f) = assume_failure(f, text, role, Some("ext-acme"));
        assert_eq!(problem, Problem::TrustPolicy);
        assert!(f.remediation.contains("trust policy"), "{}", f.remediation);
        assert!(f.remediation.contains("fleetdeck policy --external-id ext-acme"), "{}", f.remediation);
        let text = "InvalidClientTokenId: The security token included in the request is invalid.";
        let (problem, _) = assume_failure(classify_text(text, None), text, "arn:aws:iam::111111111111:role/R", None);
        assert_eq!(problem, Problem::BaseIdentity);
    }

    #[test]
    fn an_explicit_deny_is_not_fixed_by_adding_the_action() {
        let f = classify_text(
            "AccessDeniedException: User: arn:aws:sts::111111111111:assumed-role/R/s is not authorized to perform: \
             logs:DescribeLogGroups on resource: arn:aws:logs:us-east-1:111111111111:log-group:* with an explicit \
             deny in a service control policy",
            None,
        );
        let (problem, f) = read_failure(f, &tenant(), "us-east-1");
        assert_eq!(problem, Problem::ExplicitDeny);
        assert!(f.remediation.contains("service control policy"), "{}", f.remediation);
    }

    #[test]
    fn cost_explorer_not_turned_on_says_so() {
        let f = classify_text("AccessDeniedException: User not enabled for cost explorer access", None);
        let (problem, f) = cost_failure(f);
        assert_eq!(problem, Problem::ServiceNotEnabled);
        assert!(f.remediation.starts_with("turn on Cost Explorer"), "{}", f.remediation);
    }
}
