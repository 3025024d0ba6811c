//! Tenant discovery: AWS Organizations accounts tagged with the tenant tag
//! become fleet-file entries, so onboarding fifty account-per-tenant
//! customers is one command. Reads only (ListAccounts, ListTagsForResource,
//! from the payer account).

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};

use aws_sdk_sts::config::SharedCredentialsProvider;

use crate::aws::{classify, AwsAccess, Failure};
use crate::fleet::Fleet;

/// An account tagged as a tenant's.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

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
        aws.call(payer, "us-east-1", "organizations:ListAccounts").await;
        let page = client.list_accounts().set_next_token(token).send().await.map_err(|e| classify(&e))?;
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
    let mut found = Vec::new();
    for (account, name) in accounts {
        aws.call(payer, "us-east-1", "organizations:ListTagsForResource").await;
        let tags = client.list_tags_for_resource().resource_id(&account).send().await.map_err(|e| classify(&e))?;
        let value = |key: &str| tags.tags().iter().find(|t| t.key() == key).map(|t| t.value().to_string());
        if let Some(tenant) = value(tag).filter(|v| !v.is_empty()) {
            found.push(Found { account, name, tenant, tier: value("tenant-tier"), model: value("tenant-model") });
        }
    }
    Ok(found)
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
        text.push_str(&format!(
            "\n# Discovered in AWS Organizations: account {} ({}), tagged {}={}.\n\
             # Put external_id in the trust policy of the role this tenant creates, and\n\
             # add selector.dimensions (e.g. LoadBalancer) so its metrics are read.\n\
             {note}{remote}[[tenant]]\n\
             id = {}\nname = {}\ntier = {}\nmodel = {}\naccount = {}\nexternal_id = {}\nhome_region = {}\n",
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
            toml_str(&fleet.region),
        ));
    }
    (text, skipped)
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
            },
            Found {
                account: "777777777777".into(),
                name: "Stark \"Industries\"".into(),
                tenant: "stark".into(),
                tier: Some("premium".into()),
                model: Some("remote".into()),
            },
            Found {
                account: "888888888888".into(),
                name: "Bad".into(),
                tenant: "Bad Tag!".into(),
                tier: None,
                model: None,
            },
            Found {
                account: "999999999991".into(),
                name: "Wayne".into(),
                tenant: "wayne".into(),
                tier: None,
                model: Some("pooled".into()),
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
        let wayne = fleet.tenant("wayne").expect("wayne drafted");
        assert_eq!(wayne.model, crate::fleet::Model::Silo, "pooled is no model for an account of its own");
        assert!(drafts.contains("# Tagged tenant-model=\"pooled\""), "{drafts}");
        assert_eq!(fleet.tenants.len(), 7, "acme was already there");
    }
}
