//! `fleetdeck policy`: the IAM policies a tenant (or the payer) grants fleetdeck. No AWS call.

use std::process::ExitCode;

use super::PolicyDoc;

pub fn run(
    external_id: Option<&str>,
    trusted_account: Option<&str>,
    only: Option<PolicyDoc>,
    grantor: fleetdeck_engine::check::Grantor,
) -> anyhow::Result<ExitCode> {
    use fleetdeck_engine::check::{self, ACCOUNT_PLACEHOLDER, EXTERNAL_ID_PLACEHOLDER};
    if let Some(x) = external_id.filter(|x| !check::valid_external_id(x)) {
        anyhow::bail!("--external-id {x:?} must be 2-1224 characters of letters, digits and +=,.@:/-_");
    }
    let principal = check::trusted_principal(trusted_account).map_err(|e| anyhow::anyhow!("--trusted-account: {e}"))?;
    let payer = matches!(grantor, check::Grantor::Payer);
    if payer && external_id.is_some() {
        anyhow::bail!(
            "--external-id: fleetdeck assumes the payer role (payer_role_arn) without an ExternalId; leave it out"
        );
    }
    let permissions = check::permissions_policy(grantor);
    let trust =
        if payer { check::payer_trust_policy(&principal) } else { check::trust_policy(&principal, external_id) };
    let (doc, notes) = match only {
        Some(PolicyDoc::Permissions) => (permissions, vec![PolicyDoc::Permissions]),
        Some(PolicyDoc::Trust) => (trust, vec![PolicyDoc::Trust]),
        None => (
            serde_json::json!({ "permissions_policy": permissions, "trust_policy": trust }),
            vec![PolicyDoc::Permissions, PolicyDoc::Trust],
        ),
    };
    for n in notes {
        match n {
            PolicyDoc::Permissions => eprintln!(
                "# permissions_policy: attach to the tenant's role, e.g. `aws iam put-role-policy --role-name \
                 FleetdeckReadOnly --policy-name FleetdeckReadOnly --policy-document file://permissions.json`; \
                 the {} read actions fleetdeck calls in {}, none that writes",
                grantor.actions().len(),
                match grantor {
                    check::Grantor::Tenant => "a tenant account (CloudWatch, Logs); the payer's are under --payer",
                    check::Grantor::Payer => "the management account (Cost Explorer, Organizations)",
                }
            ),
            PolicyDoc::Trust => {
                eprintln!(
                    "# trust_policy: the role's trust policy, e.g. `aws iam create-role --role-name FleetdeckReadOnly \
                     --assume-role-policy-document file://trust.json`; lets {principal} assume the role, {}",
                    if payer {
                        "with no ExternalId (fleetdeck sends none for payer_role_arn)"
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
                if external_id.is_none() && !payer {
                    eprintln!(
                        "# replace {EXTERNAL_ID_PLACEHOLDER} with the tenant's external_id from the fleet file, \
                         or pass --external-id"
                    );
                }
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(ExitCode::SUCCESS)
}
