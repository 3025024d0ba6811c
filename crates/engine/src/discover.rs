//! Tenant discovery: AWS Organizations accounts tagged with the tenant tag
//! become fleet-file entries, so onboarding fifty account-per-tenant
//! customers is one command. Reads only, from the payer account:
//! ListAccounts, ListTagsForResource (Organizations has no call returning
//! many accounts' tags at once, so these go several at a time, paced), and
//! one GetCostAndUsage by account and region, for where each account runs:
//! a new tenant's role does not exist yet, so its own metrics cannot be
//! listed, but the payer sees where it spends.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};

use aws_sdk_sts::config::SharedCredentialsProvider;
use futures::StreamExt;

use crate::aws::{classify, AwsAccess, Failure};
use crate::fleet::Fleet;
use crate::model::SourceStatus;

/// An account tagged as a tenant's.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub account: String,
    pub name: String,
    /// The tenant tag's value: the tenant id.
    pub tenant: String,
    /// The `tenant-tier` tag, if any.
    pub tier: Option<String>,
    /// The `tenant-model` tag, if any: `silo` or `remote` (an account of
    /// the tenant's own; other values are drafted as silo, saying so).
    pub model: Option<String>,
    /// Regions the account spent in over the last 30 days, most first, with
    /// their share of its regional spend; empty when unknown.
    pub regions: Vec<(String, f64)>,
}

/// Tag reads in flight at once (each still paced under the quota).
const TAG_READS_AT_ONCE: usize = 8;

/// A region with at least this share of an account's spend is drafted as
/// one of its regions, besides the home region.
const EXTRA_REGION_SHARE: f64 = 0.10;

/// Every active account of the organization carrying `tag`.
pub async fn tagged_accounts(
    aws: &AwsAccess,
    creds: &SharedCredentialsProvider,
    payer: &str,
    tag: &str,
) -> Result<Vec<Found>, Failure> {
    let client = aws.organizations(creds);
    let mut accounts = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .send(payer, "us-east-1", "organizations:ListAccounts", client.list_accounts().set_next_token(token).send())
            .await
            .map_err(|e| classify(&e))?;
        for a in page.accounts() {
            let active = a.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (Some(id), true) = (a.id(), active) {
                accounts.push((id.to_string(), a.name().unwrap_or_default().to_string()));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let reads = accounts.into_iter().map(|(account, name)| {
        let client = &client;
        async move {
            let tags = aws
                .send(
                    payer,
                    "us-east-1",
                    "organizations:ListTagsForResource",
                    client.list_tags_for_resource().resource_id(&account).send(),
                )
                .await
                .map_err(|e| classify(&e))?;
            let value = |key: &str| tags.tags().iter().find(|t| t.key() == key).map(|t| t.value().to_string());
            Ok::<_, Failure>(value(tag).filter(|v| !v.is_empty()).map(|tenant| Found {
                account,
                name,
                tenant,
                tier: value("tenant-tier"),
                model: value("tenant-model"),
                regions: Vec::new(),
            }))
        }
    });
    let read: Vec<Result<Option<Found>, Failure>> =
        futures::stream::iter(reads).buffered(TAG_READS_AT_ONCE).collect().await;
    let mut found = Vec::new();
    for r in read {
        found.extend(r?);
    }
    Ok(found)
}

/// Where each account spent over the 30 days before `today` (one
/// GetCostAndUsage, monthly, by LINKED_ACCOUNT and REGION, paged): per
/// account, its regions with their share, most first. Spend that belongs
/// to no region (`global`, `NoRegion`) is left out.
pub async fn spend_regions(
    aws: &AwsAccess,
    creds: &SharedCredentialsProvider,
    payer: &str,
    today: chrono::NaiveDate,
) -> Result<HashMap<String, Vec<(String, f64)>>, Failure> {
    use aws_sdk_costexplorer::types::{DateInterval, Granularity, GroupDefinition, GroupDefinitionType};
    let client = aws.cost_explorer(creds);
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let interval = DateInterval::builder()
        .start(day(today - chrono::Duration::days(30)))
        .end(day(today))
        .build()
        .map_err(|e| Failure { status: SourceStatus::Error, message: e.to_string(), remediation: String::new() })?;
    let group = |key: &str| GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key(key).build();
    let mut spend: HashMap<String, HashMap<String, f64>> = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .send(
                payer,
                "us-east-1",
                "ce:GetCostAndUsage",
                client
                    .get_cost_and_usage()
                    .time_period(interval.clone())
                    .granularity(Granularity::Monthly)
                    .metrics("UnblendedCost")
                    .group_by(group("LINKED_ACCOUNT"))
                    .group_by(group("REGION"))
                    .set_next_page_token(token)
                    .send(),
            )
            .await
            .map_err(|e| classify(&e))?;
        for g in page.results_by_time().iter().flat_map(|r| r.groups()) {
            let (Some(account), Some(region)) = (g.keys().first(), g.keys().get(1)) else { continue };
            if matches!(region.as_str(), "" | "global" | "NoRegion") {
                continue;
            }
            let amount = g
                .metrics()
                .and_then(|m| m.get("UnblendedCost"))
                .and_then(|m| m.amount())
                .and_then(|a| a.parse::<f64>().ok())
                .unwrap_or(0.0);
            *spend.entry(account.clone()).or_default().entry(region.clone()).or_default() += amount;
        }
        token = page.next_page_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(spend
        .into_iter()
        .map(|(account, regions)| {
            let total: f64 = regions.values().filter(|v| **v > 0.0).sum();
            let mut shares: Vec<(String, f64)> =
                regions.into_iter().filter(|(_, v)| *v > 0.0).map(|(r, v)| (r, v / total)).collect();
            shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (account, shares)
        })
        .collect())
}

/// Fleet-file entries for the accounts not already in the fleet (by tenant
/// id or by account), as TOML text with comments saying what to finish.
/// Returns the text and the ids it skipped with why.
pub fn drafts(fleet: &Fleet, found: &[Found]) -> (String, Vec<String>) {
    let known_ids: BTreeSet<&str> = fleet.tenants.iter().map(|t| t.id.as_str()).collect();
    let known_accounts: BTreeSet<&str> =
        fleet.tenants.iter().filter(|t| t.model.owns_account()).map(|t| t.account.as_str()).collect();
    let mut text = String::new();
    let mut skipped = Vec::new();
    let mut seen = BTreeSet::new();
    for f in found {
        if known_ids.contains(f.tenant.as_str()) || known_accounts.contains(f.account.as_str()) {
            continue;
        }
        let valid = (1..=63).contains(&f.tenant.len())
            && f.tenant.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !f.tenant.starts_with('-');
        if !valid {
            skipped.push(format!(
                "account {} is tagged {:?}, which is not a valid tenant id (a-z, 0-9, '-')",
                f.account, f.tenant
            ));
            continue;
        }
        if !seen.insert(f.tenant.clone()) {
            skipped
                .push(format!("account {} is tagged {:?} like another account: add it by hand", f.account, f.tenant));
            continue;
        }
        // The model from the account's `tenant-model` tag where it names an
        // account-per-tenant model; silo otherwise, saying why.
        let (model, note) = match f.model.as_deref() {
            Some(m @ ("silo" | "remote")) => (m, String::new()),
            Some(other) => (
                "silo",
                format!("# Tagged tenant-model={other:?}, not a model with an account of its own: drafted as silo.\n"),
            ),
            None => ("silo", String::new()),
        };
        let remote = if model == "remote" {
            "# Remote: the customer owns the role; if they named it otherwise, set role_arn.\n"
        } else {
            ""
        };
        // Home: where the account spent most over the last 30 days; other
        // regions with a tenth of its spend or more are its extra regions.
        let (home, extra, where_note) = match f.regions.first() {
            Some((home, _)) => {
                let extra: Vec<&str> =
                    f.regions[1..].iter().filter(|(_, s)| *s >= EXTRA_REGION_SHARE).map(|(r, _)| r.as_str()).collect();
                let spread: Vec<String> =
                    f.regions.iter().take(4).map(|(r, s)| format!("{r} {:.0}%", s * 100.0)).collect();
                (home.as_str(), extra, format!("# Spend by region, last 30 days: {}.\n", spread.join(", ")))
            }
            None => (
                fleet.region.as_str(),
                Vec::new(),
                "# No spend by region found for this account: home_region is the fleet's; check it.\n".to_string(),
            ),
        };
        let extra_line = if extra.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = extra.iter().map(|r| toml_str(r)).collect();
            format!("extra_regions = [{}]\n", list.join(", "))
        };
        text.push_str(&format!(
            "\n# Discovered in AWS Organizations: account {} ({}), tagged {}={}.\n\
             # Put external_id in the trust policy of the role this tenant creates, and\n\
             # add selector.dimensions (e.g. LoadBalancer) so its metrics are read.\n\
             {where_note}{note}{remote}[[tenant]]\n\
             id = {}\nname = {}\ntier = {}\nmodel = {}\naccount = {}\nexternal_id = {}\nhome_region = {}\n{extra_line}",
            f.account,
            toml_str(&f.name).trim_matches('"'),
            fleet.cost_tag,
            f.tenant,
            toml_str(&f.tenant),
            toml_str(if f.name.is_empty() { &f.tenant } else { &f.name }),
            toml_str(f.tier.as_deref().unwrap_or("standard")),
            toml_str(model),
            toml_str(&f.account),
            toml_str(&external_id(&f.tenant)),
            toml_str(home),
        ));
    }
    (text, skipped)
}

/// An account linked to the monitoring account's sink, in the regions it
/// is linked in.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    pub account: String,
    /// The link's label (by default the account's name).
    pub label: String,
    /// Regions where it is linked, in `[monitoring]` order.
    pub regions: Vec<String>,
}

/// Every account linked to the monitoring account's sinks
/// (ListSinks and ListAttachedLinks in each region of `[monitoring]`).
pub async fn linked_accounts(aws: &AwsAccess, m: &crate::fleet::Monitoring) -> Result<Vec<Linked>, Failure> {
    let creds = aws.role(&m.role_arn, m.external_id.as_deref()).await;
    aws.check(&creds, &m.role_arn, m.external_id.as_deref()).await?;
    let mut out: Vec<Linked> = Vec::new();
    for region in &m.regions {
        let target = crate::plan::Target::monitoring(m, region);
        let client = aws.oam(&creds, region);
        for sink in crate::collect::sinks(&client, aws, &target).await? {
            for link in crate::collect::attached_links(&client, aws, &target, &sink).await? {
                match out.iter_mut().find(|l| l.account == link.account) {
                    Some(l) if !l.regions.contains(region) => l.regions.push(region.clone()),
                    Some(_) => {}
                    None => {
                        out.push(Linked { account: link.account, label: link.label, regions: vec![region.clone()] })
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Fleet-file entries (`via = "monitoring"`) for linked accounts not yet
/// in the fleet. The tenant id is the account's tenant tag where
/// Organizations has one (`tagged`), else drafted from the link's label.
pub fn drafts_linked(fleet: &Fleet, linked: &[Linked], tagged: &[Found]) -> (String, Vec<String>) {
    let known_ids: BTreeSet<&str> = fleet.tenants.iter().map(|t| t.id.as_str()).collect();
    let known_accounts: BTreeSet<&str> = fleet.tenants.iter().map(|t| t.account.as_str()).collect();
    let mut text = String::new();
    let mut skipped = Vec::new();
    let mut seen = BTreeSet::new();
    for l in linked {
        if known_accounts.contains(l.account.as_str()) {
            continue;
        }
        let tag = tagged.iter().find(|f| f.account == l.account);
        let (id, from) = match tag {
            Some(f) => (f.tenant.clone(), format!("its tag {}={}", fleet.cost_tag, f.tenant)),
            None => (slug(&l.label), format!("its link label {:?}: check the id", l.label)),
        };
        let valid = (1..=63).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if !valid || known_ids.contains(id.as_str()) || !seen.insert(id.clone()) {
            skipped.push(format!(
                "account {} (linked as {:?}) would be tenant {id:?}, which is not a valid, unused tenant id: add it by hand",
                l.account, l.label
            ));
            continue;
        }
        let extra = if l.regions.len() > 1 {
            let list: Vec<String> = l.regions[1..].iter().map(|r| toml_str(r)).collect();
            format!("extra_regions = [{}]\n", list.join(", "))
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\n# Linked to the monitoring account's sink: account {} ({}), in {}; id from {from}.\n\
             # Read through the monitoring account: no role needed. Add selector.dimensions\n\
             # (e.g. LoadBalancer) so its metrics are read, and selector.log_groups for its logs.\n\
             [[tenant]]\nid = {}\nname = {}\ntier = {}\nmodel = \"silo\"\naccount = {}\nvia = \"monitoring\"\n\
             home_region = {}\n{extra}",
            l.account,
            toml_str(&l.label).trim_matches('"'),
            l.regions.join(", "),
            toml_str(&id),
            toml_str(if l.label.is_empty() { &id } else { &l.label }),
            toml_str(tag.and_then(|f| f.tier.as_deref()).unwrap_or("standard")),
            toml_str(&l.account),
            toml_str(&l.regions[0]),
        ));
    }
    (text, skipped)
}

/// A tenant id drafted from a label: lowercase, runs of anything else as
/// one '-', at most 63 characters.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

/// A fresh ExternalId: unique per tenant and not guessable from its name.
fn external_id(tenant: &str) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(tenant.as_bytes());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("fleetdeck-{tenant}-{:016x}", h.finish())
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use std::path::Path;

    #[test]
    fn drafts_cover_only_new_valid_tenants_and_parse_when_merged() {
        let text = include_str!("../../../examples/fleet.toml");
        let catalog = Catalog::builtin().unwrap();
        let fleet = Fleet::parse(Path::new("fleet.toml"), text, &catalog).unwrap();
        let found = vec![
            Found {
                account: "111111111111".into(),
                name: "Acme".into(),
                tenant: "acme".into(),
                tier: None,
                model: None,
                regions: Vec::new(),
            },
            Found {
                account: "777777777777".into(),
                name: "Stark \"Industries\"".into(),
                tenant: "stark".into(),
                tier: Some("premium".into()),
                model: Some("remote".into()),
                regions: vec![("eu-west-1".into(), 0.8), ("us-east-1".into(), 0.15), ("ap-south-1".into(), 0.05)],
            },
            Found {
                account: "888888888888".into(),
                name: "Bad".into(),
                tenant: "Bad Tag!".into(),
                tier: None,
                model: None,
                regions: Vec::new(),
            },
            Found {
                account: "999999999991".into(),
                name: "Wayne".into(),
                tenant: "wayne".into(),
                tier: None,
                model: Some("pooled".into()),
                regions: Vec::new(),
            },
        ];
        let (drafts, skipped) = drafts(&fleet, &found);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].contains("\"Bad Tag!\""));
        let merged = format!("{text}{drafts}");
        let fleet = Fleet::parse(Path::new("fleet.toml"), &merged, &catalog).expect("merged file is valid");
        let stark = fleet.tenant("stark").expect("stark drafted");
        assert_eq!(
            (stark.name.as_str(), stark.tier.as_str(), stark.account.as_str()),
            ("Stark \"Industries\"", "premium", "777777777777")
        );
        assert!(stark.external_id.as_deref().unwrap().starts_with("fleetdeck-stark-"));
        assert_eq!(stark.model, crate::fleet::Model::Remote, "from its tenant-model tag");
        assert_eq!(stark.home_region, "eu-west-1", "where it spends most");
        assert_eq!(stark.extra_regions, ["us-east-1"], "a tenth or more of its spend; ap-south-1 is not");
        assert!(drafts.contains("# Spend by region, last 30 days: eu-west-1 80%, us-east-1 15%, ap-south-1 5%."));
        let wayne = fleet.tenant("wayne").unwrap();
        assert_eq!(wayne.home_region, fleet.region, "no spend found: the fleet's region, saying so");
        let wayne = fleet.tenant("wayne").expect("wayne drafted");
        assert_eq!(wayne.model, crate::fleet::Model::Silo, "pooled is no model for an account of its own");
        assert!(drafts.contains("# Tagged tenant-model=\"pooled\""), "{drafts}");
        assert_eq!(fleet.tenants.len(), 7, "acme was already there");
    }
}
