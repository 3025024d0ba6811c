//! `fleetdeck policy`: the IAM policies a tenant (or the payer) grants fleetdeck. No AWS call.

use std::process::ExitCode;

use super::PolicyDoc;

/// What was asked for besides whose role it is.
pub struct Asked<'a> {
    pub external_id: Option<&'a str>,
    pub trusted_account: Option<&'a str>,
    pub only: Option<PolicyDoc>,
    /// Accounts the monitoring account's sink policy lets link.
    pub linked_accounts: &'a [String],
}

pub fn run(asked: Asked<'_>, grantor: fleetdeck_engine::check::Grantor) -> anyhow::Result<ExitCode> {
    use fleetdeck_engine::check::{self, ACCOUNT_PLACEHOLDER, EXTERNAL_ID_PLACEHOLDER, LINKED_ACCOUNT_PLACEHOLDER};
    let Asked { external_id, trusted_account, only, linked_accounts } = asked;
    if let Some(x) = external_id.filter(|x| !check::valid_external_id(x)) {
        anyhow::bail!("--external-id {x:?} must be 2-1224 characters of letters, digits and +=,.@:/-_");
    }
    let principal = check::trusted_principal(trusted_account).map_err(|e| anyhow::anyhow!("--trusted-account: {e}"))?;
    // The provider's own accounts (payer, monitoring) are assumed without
    // an ExternalId: that guards a customer's role, not one's own.
    let own_account = matches!(grantor, check::Grantor::Payer | check::Grantor::Monitoring);
    let payer = matches!(grantor, check::Grantor::Payer);
    let monitoring = matches!(grantor, check::Grantor::Monitoring);
    if own_account && external_id.is_some() {
        anyhow::bail!(
            "--external-id: fleetdeck assumes the {} role without an ExternalId; leave it out",
            if payer { "payer (payer_role_arn)" } else { "monitoring account's" }
        );
    }
    if let Some(bad) = linked_accounts.iter().find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit())) {
        anyhow::bail!("--linked-account {bad:?} is not a 12-digit AWS account id");
    }
    if only == Some(PolicyDoc::Sink) && !monitoring {
        anyhow::bail!("--only sink: the sink policy is the monitoring account's; add --monitoring");
    }
    let permissions = check::permissions_policy(grantor);
    let trust =
        if own_account { check::payer_trust_policy(&principal) } else { check::trust_policy(&principal, external_id) };
    let sink = check::sink_policy(linked_accounts);
    let (doc, notes) = match only {
        Some(PolicyDoc::Permissions) => (permissions, vec![PolicyDoc::Permissions]),
        Some(PolicyDoc::Trust) => (trust, vec![PolicyDoc::Trust]),
        Some(PolicyDoc::Sink) => (sink, vec![PolicyDoc::Sink]),
        None if monitoring => (
            serde_json::json!({ "permissions_policy": permissions, "trust_policy": trust, "sink_policy": sink }),
            vec![PolicyDoc::Permissions, PolicyDoc::Trust, PolicyDoc::Sink],
        ),
        None => (
            serde_json::json!({ "permissions_policy": permissions, "trust_policy": trust }),
            vec![PolicyDoc::Permissions, PolicyDoc::Trust],
        ),
    };
    let (role, name) = match grantor {
        check::Grantor::Tenant => ("tenant's role", "FleetdeckReadOnly"),
        check::Grantor::Payer => ("payer role (payer_role_arn)", "FleetdeckReadOnly"),
        check::Grantor::Monitoring => ("monitoring account's role", "FleetdeckMonitoring"),
    };
    for n in notes {
        match n {
            PolicyDoc::Permissions => eprintln!(
                "# permissions_policy: attach to the {role}, e.g. `aws iam put-role-policy --role-name \
                 {name} --policy-name FleetdeckReadOnly --policy-document file://permissions.json`; \
                 the {} read actions fleetdeck calls in {}, none that writes",
                grantor.actions().len(),
                match grantor {
                    check::Grantor::Tenant => "a tenant account (CloudWatch, Logs); the payer's are under --payer",
                    check::Grantor::Payer => "the management account (Cost Explorer, Organizations)",
                    check::Grantor::Monitoring =>
                        "the monitoring account (CloudWatch and Logs over the linked accounts, the sink's links)",
                }
            ),
            PolicyDoc::Trust => {
                eprintln!(
                    "# trust_policy: the role's trust policy, e.g. `aws iam create-role --role-name {name} \
                     --assume-role-policy-document file://trust.json`; lets {principal} assume the role, {}",
                    if own_account {
                        "with no ExternalId (fleetdeck sends none to the provider's own accounts)"
                    } else {
                        "only with the tenant's ExternalId"
                    }
                );
                if trusted_account.is_none() {
                    eprintln!(
                        "# replace {ACCOUNT_PLACEHOLDER} with the 12-digit account fleetdeck runs as \
                         (`aws sts get-caller-identity` shows it), or pass --trusted-account"
                    );
                }
                if external_id.is_none() && !own_account {
                    eprintln!(
                        "# replace {EXTERNAL_ID_PLACEHOLDER} with the tenant's external_id from the fleet file, \
                         or pass --external-id"
                    );
                }
            }
            PolicyDoc::Sink => {
                eprintln!(
                    "# sink_policy: the monitoring account's sink policy, e.g. `aws oam put-sink-policy \
                     --sink-identifier <SINK-ARN> --policy file://sink.json` in each region of [monitoring]; \
                     lets the accounts named link to the sink, sharing metrics and log groups only"
                );
                if linked_accounts.is_empty() {
                    eprintln!(
                        "# replace {LINKED_ACCOUNT_PLACEHOLDER} with the tenants' accounts, or pass \
                         --linked-account once per account"
                    );
                }
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(ExitCode::SUCCESS)
}
