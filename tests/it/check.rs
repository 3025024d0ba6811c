//! An operator onboarding tenants runs `fleetdeck check` before the first
//! sync: every tenant that granted the read-only role passes; a tenant whose
//! role is gone fails at credentials with the trust policy to fix; one whose
//! role lacks `logs:DescribeLogGroups` fails at logs with that exact policy
//! line; a selector naming no existing log group is caught; a region the
//! account has not enabled is named as such; an endpoint that is down is
//! called unreachable. `fleetdeck policy` prints the policies to
//! hand the tenant, generated from the list fleetdeck is limited to.
//!
//! The simulated fleet plays the tenants' accounts (its knobs remove roles
//! and actions, as AWS would answer); moto, an emulator nobody here wrote,
//! checks the real SDK path, per-account isolation, and the credential
//! failures it really enforces: moto accepts any role and any ExternalId, so
//! a missing role or wrong ExternalId is tested on the simulator only.

use fleetdeck_testkit::world::{epoch_now, World};

use std::path::Path;
use std::process::Command;

use fleetdeck_engine::aws::{AwsAccess, AwsSettings, READ_ACTIONS};
use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::check::{self, CheckOptions, CheckRow, Probe, Problem, Verdict};
use fleetdeck_engine::fleet::{Fleet, Model};
use fleetdeck_sim::{SimFleet, SimKnobs};

/// The first five tenants cover every isolation model; eight add two more
/// silo tenants, each with an account of its own.
const TENANTS: usize = 8;

/// This file's own ways to start and drive a [`World`].
#[allow(async_fn_in_trait)]
trait Local {
    /// [`TENANTS`] tenants placed now, with the built-in catalog.
    async fn start() -> World;
    /// Knobs on top of the frozen clock.
    fn knobs(&self, knobs: SimKnobs);
    /// `fleetdeck check` as the CLI sets it up for this fleet.
    async fn check(&self, opts: CheckOptions) -> Vec<CheckRow>;
    /// Silo tenants, each alone in its account.
    fn silo_tenants(&self) -> Vec<(String, String, String)>;
}

impl Local for World {
    /// [`TENANTS`] tenants placed now, with the built-in catalog.
    async fn start() -> World {
        World::start_with(TENANTS, Catalog::builtin().unwrap(), epoch_now()).await
    }

    /// Knobs on top of the frozen clock.
    fn knobs(&self, knobs: SimKnobs) {
        self.sim.set_knobs(SimKnobs { clock: Some(self.epoch), ..knobs });
    }

    /// `fleetdeck check` as the CLI sets it up for this fleet.
    async fn check(&self, opts: CheckOptions) -> Vec<CheckRow> {
        let aws = self.aws().await;
        check::run(&self.fleet, &self.catalog, &aws, &opts).await.expect("known tenants")
    }

    /// Silo tenants, each alone in its account.
    fn silo_tenants(&self) -> Vec<(String, String, String)> {
        let f = &self.fleet;
        f.tenants
            .iter()
            .filter(|t| t.model == Model::Silo && f.tenants.iter().filter(|o| o.account == t.account).count() == 1)
            .map(|t| (t.id.clone(), t.account.clone(), t.external_id.clone().unwrap()))
            .collect()
    }
}

fn rows_of<'a>(rows: &'a [CheckRow], tenant: &str) -> Vec<&'a CheckRow> {
    rows.iter().filter(|r| r.tenant == tenant).collect()
}

/// Per tenant: one credentials row, then CloudWatch, alarms and Logs per
/// region (with the tag read first for a tenant found by its tag).
fn assert_all_ok(rows: &[CheckRow], fleet: &Fleet, except: &[&str]) {
    for t in fleet.tenants.iter().filter(|t| !except.contains(&t.id.as_str())) {
        let mine = rows_of(rows, &t.id);
        let shape: Vec<(&str, Probe)> = mine.iter().map(|r| (r.region.as_str(), r.check)).collect();
        let mut want = vec![("*", Probe::Credentials)];
        let by_tag = fleetdeck_engine::sync::needs_tags(t, &fleetdeck_engine::catalog::Catalog::builtin().unwrap());
        for region in t.regions() {
            if by_tag {
                want.push((region, Probe::Tags));
            }
            want.extend([(region, Probe::Cloudwatch), (region, Probe::Alarms), (region, Probe::Logs)]);
        }
        assert_eq!(shape, want, "{}", t.id);
        for r in mine {
            assert_eq!(r.result, Verdict::Ok, "{r:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_that_granted_the_role_passes_and_cost_is_checked_only_when_asked() {
    let w = World::start().await;
    let rows = w.check(CheckOptions::at(w.epoch)).await;
    assert_all_ok(&rows, &w.fleet, &[]);
    let cost = rows.last().unwrap();
    assert_eq!((cost.check, cost.result), (Probe::Cost, Verdict::Skipped), "{cost:?}");
    assert!(cost.message.contains("--cost") && cost.message.contains("$0.01"), "{}", cost.message);
    let asked = |action: &str| w.sim.requests().iter().filter(|r| r.action == action).map(|r| r.count).sum::<u64>();
    assert_eq!(asked("GetCostAndUsage"), 0, "Cost Explorer bills $0.01 a request: not without --cost");
    let regions: u64 = w.fleet.tenants.iter().map(|t| t.regions().count() as u64).sum();
    assert_eq!(asked("GetMetricData"), regions, "one cheap read per tenant-region");
    assert_eq!(asked("DescribeLogGroups"), regions);

    let rows = w.check(CheckOptions { cost: true, ..CheckOptions::at(w.epoch) }).await;
    let cost = rows.last().unwrap();
    assert_eq!((cost.check, cost.result), (Probe::Cost, Verdict::Ok), "{cost:?}");
    assert_eq!(asked("GetCostAndUsage"), 1, "once for the payer, not per tenant");
    // Everything fleetdeck sent is on its read-only allowlist.
    for r in w.sim.requests() {
        let allowed = READ_ACTIONS.iter().any(|a| a.ends_with(&format!(":{}", r.action)));
        assert!(
            allowed || ["AssumeRole", "GetCallerIdentity", "GetFederationToken"].contains(&r.action.as_str()),
            "sent {}",
            r.action
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_role_fails_at_credentials_and_a_missing_action_at_logs_with_the_policy_line() {
    let w = World::start().await;
    let silos = w.silo_tenants();
    let [(gone, gone_account, gone_ext), (narrow, narrow_account, _), ..] = &silos[..] else {
        panic!("the fleet has two silo tenants: {silos:?}")
    };
    w.knobs(SimKnobs {
        deny_assume_role: vec![gone_account.clone()],
        deny_actions: vec![(narrow_account.clone(), "logs:DescribeLogGroups".into())],
        ..SimKnobs::default()
    });
    let rows = w.check(CheckOptions::at(w.epoch)).await;
    assert_all_ok(&rows, &w.fleet, &[gone, narrow]);

    // The remote tenant deleted the vendor role: nothing else can be tried.
    let mine = rows_of(&rows, gone);
    assert_eq!(mine.len(), 1, "{mine:#?}");
    let r = mine[0];
    assert_eq!((r.check, r.result, r.status), (Probe::Credentials, Verdict::Failed, Some("access_denied")));
    assert_eq!(r.problem, Some(Problem::TrustPolicy));
    // AWS's own words, not the credential provider's nested debug text.
    assert!(r.message.starts_with("AccessDenied: User: "), "{}", r.message);
    assert!(r.message.contains("is not authorized to perform: sts:AssumeRole"), "{}", r.message);
    let fix = r.fix.as_deref().unwrap();
    assert!(fix.contains("trust policy") && fix.contains(&format!("sts:ExternalId {gone_ext:?}")), "{fix}");
    assert!(fix.contains(&format!("fleetdeck policy --external-id {gone_ext}")), "{fix}");

    // The role exists but its policy lacks one action: that action, quoted
    // as the policy line to add, and only the logs check fails.
    let mine = rows_of(&rows, narrow);
    let failed: Vec<&&CheckRow> = mine.iter().filter(|r| r.is_failed()).collect();
    let t = w.fleet.tenant(narrow).unwrap();
    assert_eq!(failed.len(), t.regions().count(), "{mine:#?}");
    for r in failed {
        assert_eq!((r.check, r.status, r.problem), (Probe::Logs, Some("access_denied"), Some(Problem::MissingAction)));
        let fix = r.fix.as_deref().unwrap();
        assert!(fix.starts_with("add \"logs:DescribeLogGroups\" to the role's permissions policy"), "{fix}");
    }
    assert!(mine.iter().any(|r| r.check == Probe::Cloudwatch && r.result == Verdict::Ok));
}

/// A tenant added a region that its account has not enabled (an opt-in
/// region): its home region passes, that region fails for CloudWatch,
/// alarms and Logs as "region not enabled", with how to enable it or drop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_the_account_has_not_enabled_is_named_with_its_fix() {
    let w = World::start().await;
    let t = w
        .fleet
        .tenants
        .iter()
        .find(|t| t.model == Model::Silo && t.regions().count() > 1)
        .expect("a silo tenant in two regions")
        .clone();
    let off = t.extra_regions[0].clone();
    w.knobs(SimKnobs { disabled_regions: vec![(t.account.clone(), off.clone())], ..SimKnobs::default() });
    let rows = w.check(CheckOptions::at(w.epoch)).await;
    let mine = rows_of(&rows, &t.id);
    let failed: Vec<&&CheckRow> = mine.iter().filter(|r| r.is_failed()).collect();
    assert_eq!(failed.len(), 3, "CloudWatch, alarms and Logs in {off}: {mine:#?}");
    for r in &failed {
        assert_eq!(r.region, off);
        assert_eq!(r.problem, Some(Problem::RegionNotEnabled), "{r:#?}");
        let fix = r.fix.as_deref().unwrap();
        assert!(fix.starts_with(&format!("enable {off} in account {}", t.account)), "{fix}");
    }
    assert!(mine.iter().any(|r| r.region == t.home_region && r.check == Probe::Cloudwatch && r.result == Verdict::Ok));
    assert_all_ok(&rows, &w.fleet, &[&t.id]);
}

/// A fleet broken the ways real ones are, checked before any sync: every
/// broken tenant is named with what is wrong and the fix, and the others
/// pass. (The selector checks read the tenant's own catalog metrics over
/// the last 24 hours: a typo reads as no data, and is named here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_every_broken_tenant_of_a_broken_fleet_before_any_sync() {
    let mut w = World::start_with(24, Catalog::builtin().unwrap(), epoch_now()).await;
    let silos = w.silo_tenants();
    let ids: Vec<String> = silos.iter().map(|(id, _, _)| id.clone()).collect();
    let [wrong_ext, renamed, no_alarms, no_start, bad_lb, no_group, ..] = &ids[..] else {
        panic!("six silo tenants: {ids:?}")
    };
    let pooled = w.fleet.tenants.iter().find(|t| t.model == Model::Pooled).unwrap().id.clone();
    let account = |id: &str| w.fleet.tenant(id).unwrap().account.clone();
    w.knobs(SimKnobs {
        deny_actions: vec![
            (account(no_alarms), "cloudwatch:DescribeAlarms".into()),
            (account(no_start), "logs:StartQuery".into()),
        ],
        ..SimKnobs::default()
    });
    for t in &mut w.fleet.tenants {
        if &t.id == wrong_ext {
            t.external_id = Some("fleetdeck-wrong".into());
        } else if &t.id == renamed {
            t.role_arn = t.role_arn.replace("FleetdeckReadOnly", "FleetdeckReader");
        } else if &t.id == bad_lb {
            t.selector.dimensions.insert("LoadBalancer".into(), vec!["app/does-not-exist/0000".into()]);
        } else if &t.id == no_group {
            t.selector.log_groups = vec!["/no-such/app".into()];
        } else if t.id == pooled {
            t.selector.dimensions.insert("TenantId".into(), vec![format!("{}-typo", t.id)]);
        }
    }
    let rows = w.check(CheckOptions::at(w.epoch)).await;
    let failed = |id: &str| -> Vec<&CheckRow> { rows.iter().filter(|r| r.tenant == id && r.is_failed()).collect() };

    for id in [wrong_ext, renamed] {
        let f = failed(id);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].check, f[0].problem), (Probe::Credentials, Some(Problem::TrustPolicy)), "{:#?}", f[0]);
    }
    let f = failed(no_alarms);
    assert!(f.iter().all(|r| r.check == Probe::Alarms && r.problem == Some(Problem::MissingAction)), "{f:#?}");
    assert!(f[0].fix.as_deref().unwrap().starts_with("add \"cloudwatch:DescribeAlarms\""), "{:#?}", f[0]);
    let f = failed(no_start);
    assert!(f.iter().all(|r| r.check == Probe::Logs && r.problem == Some(Problem::MissingAction)), "{f:#?}");
    assert!(f[0].fix.as_deref().unwrap().starts_with("add \"logs:StartQuery\""), "{:#?}", f[0]);
    for id in [bad_lb.as_str(), pooled.as_str()] {
        let f = failed(id);
        assert!(!f.is_empty() && f.iter().all(|r| r.check == Probe::Cloudwatch), "{id}: {f:#?}");
        for r in &f {
            assert_eq!((r.problem, r.status), (Some(Problem::NoData), Some("not_configured")), "{r:#?}");
            assert!(r.message.contains("no datapoints in the last 24 h"), "{}", r.message);
            let line = w.fleet.tenant(id).unwrap().line;
            assert!(line > 0);
            let fix = r.fix.as_deref().unwrap();
            assert!(fix.contains(&format!("selector.dimensions of tenant {id:?} (fleet file line {line})")), "{fix}");
        }
    }
    let f = failed(no_group);
    assert!(!f.is_empty() && f.iter().all(|r| r.problem == Some(Problem::NoLogGroup)), "{f:#?}");

    let broken = [wrong_ext, renamed, no_alarms, no_start, bad_lb, no_group, &pooled];
    let failing: std::collections::BTreeSet<&str> =
        rows.iter().filter(|r| r.is_failed()).map(|r| r.tenant.as_str()).collect();
    let want: std::collections::BTreeSet<&str> = broken.iter().map(|s| s.as_str()).collect();
    assert_eq!(failing, want, "exactly the broken tenants fail");
}

/// A role made before fleetdeck set SourceIdentity trusts sts:AssumeRole but
/// not sts:SetSourceIdentity, and AWS then refuses the whole AssumeRole.
/// fleetdeck still reads (the session carries its name only) and `check`
/// says what the trust policy lacks; roles that allow it get it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_whose_trust_lacks_set_source_identity_still_reads_and_check_asks_for_it() {
    let w = World::start().await;
    let silos = w.silo_tenants();
    let (old, old_account, _) = &silos[0];
    w.knobs(SimKnobs { no_set_source_identity: vec![old_account.clone()], ..SimKnobs::default() });
    let rows = w.check(CheckOptions::at(w.epoch)).await;
    assert_all_ok(&rows, &w.fleet, &[]);
    let creds = rows.iter().find(|r| &r.tenant == old && r.check == Probe::Credentials).unwrap();
    assert!(
        creds.message.contains("does not allow sts:SetSourceIdentity") && creds.message.contains("fleetdeck policy"),
        "{creds:#?}"
    );
    for r in rows.iter().filter(|r| &r.tenant != old && r.check == Probe::Credentials) {
        assert!(!r.message.contains("SetSourceIdentity"), "{r:#?}");
    }
    let to_old: Vec<_> =
        w.sim.assume_role_requests().into_iter().filter(|r| r.role_arn.contains(old_account.as_str())).collect();
    let sent: Vec<(bool, bool)> = to_old.iter().map(|r| (r.source_identity.is_some(), r.issued.is_some())).collect();
    assert_eq!(sent, [(true, false), (false, true)], "refused with it, then assumed without it, once");
}

/// Without payer_role_arn, the payer is read through the base identity's
/// own federation token, narrowed by the session policy: never unscoped.
/// An IAM user not allowed sts:GetFederationToken, and an SSO or role user
/// (AWS gives those no federation token), get the fix, not unscoped reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payer_reads_without_a_payer_role_are_scoped_or_refused_with_the_fix() {
    let w = World::start().await;
    let payer = w.fleet.payer_account.clone().unwrap();
    assert_eq!(w.fleet.payer_role_arn, None);
    let cost_row = |rows: Vec<CheckRow>| rows.into_iter().find(|r| r.check == Probe::Cost).unwrap();
    let asked = |action: &str| w.sim.requests().iter().filter(|r| r.action == action).map(|r| r.count).sum::<u64>();

    let ok = cost_row(w.check(CheckOptions { cost: true, ..CheckOptions::at(w.epoch) }).await);
    assert_eq!(ok.result, Verdict::Ok, "{ok:#?}");
    assert_eq!(w.sim.federation_token_requests().len(), 1);

    w.knobs(SimKnobs { deny_actions: vec![(payer.clone(), "sts:GetFederationToken".into())], ..SimKnobs::default() });
    let before = asked("GetCostAndUsage");
    let denied = cost_row(w.check(CheckOptions { cost: true, ..CheckOptions::at(w.epoch) }).await);
    assert_eq!((denied.result, denied.problem), (Verdict::Failed, Some(Problem::MissingAction)), "{denied:#?}");
    let fix = denied.fix.as_deref().unwrap();
    assert!(fix.contains("allow \"sts:GetFederationToken\"") && fix.contains("payer_role_arn"), "{fix}");
    assert_eq!(asked("GetCostAndUsage"), before, "no unscoped read instead");

    // An SSO user: the base identity is itself a role session (with no
    // session policy of its own, as an SSO permission set's session).
    w.knobs(SimKnobs::default());
    let sso = {
        use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(w.fleet.region.clone()))
            .endpoint_url(w.sim.endpoint())
            .credentials_provider(Credentials::new(
                SimFleet::ACCESS_KEY_ID,
                SimFleet::SECRET_ACCESS_KEY,
                None,
                None,
                "t",
            ))
            .load()
            .await;
        let out = aws_sdk_sts::Client::new(&conf)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{payer}:role/FleetdeckCostReader"))
            .role_session_name("ana@corp.com")
            .send()
            .await
            .expect("the SSO session");
        out.credentials.expect("credentials")
    };
    let aws = AwsAccess::new(&AwsSettings {
        static_credentials: Some((sso.access_key_id().into(), sso.secret_access_key().into())),
        static_session_token: Some(sso.session_token().into()),
        ..fleetdeck_testkit::world::sim_settings(&w.sim.endpoint(), &w.fleet.region)
    })
    .await;
    let opts = CheckOptions { cost: true, tenant: Some(w.fleet.tenants[0].id.clone()), ..CheckOptions::at(w.epoch) };
    let before = asked("GetCostAndUsage");
    let rows = check::run(&w.fleet, &w.catalog, &aws, &opts).await.unwrap();
    let refused = cost_row(rows);
    assert_eq!((refused.result, refused.problem), (Verdict::Failed, Some(Problem::BaseIdentity)), "{refused:#?}");
    assert_eq!(refused.status, Some("access_denied"));
    let fix = refused.fix.as_deref().unwrap();
    assert!(fix.contains("SSO or a role") && fix.contains("set payer_role_arn"), "{fix}");
    assert_eq!(asked("GetCostAndUsage"), before, "no unscoped read instead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_group_selector_that_matches_nothing_is_caught_before_a_sync() {
    let mut w = World::start().await;
    let (id, _, _) = w.silo_tenants().remove(0);
    let t = w.fleet.tenants.iter_mut().find(|t| t.id == id).unwrap();
    t.selector.log_groups = vec![format!("/{id}/app"), "/typo/*".into()];
    let rows = w.check(CheckOptions { tenant: Some(id.clone()), ..CheckOptions::at(w.epoch) }).await;
    assert!(rows.iter().all(|r| r.tenant == id || r.check == Probe::Cost), "--tenant checks only that tenant");
    let logs: Vec<&CheckRow> = rows.iter().filter(|r| r.check == Probe::Logs).collect();
    assert!(!logs.is_empty());
    for r in logs {
        assert_eq!(
            (r.result, r.problem, r.status),
            (Verdict::Failed, Some(Problem::NoLogGroup), Some("not_configured"))
        );
        assert!(r.message.contains("\"/typo/*\"") && !r.message.contains("app\""), "{}", r.message);
        assert!(r.fix.as_deref().unwrap().contains("selector.log_groups"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_down_is_unreachable_not_access_denied() {
    let mut w = World::start().await;
    w.sim.go_dark().await;
    let rows = w.check(CheckOptions::at(w.epoch)).await;
    assert_eq!(rows.iter().filter(|r| r.check == Probe::Credentials).count(), w.fleet.tenants.len());
    for r in rows.iter().filter(|r| r.check != Probe::Cost) {
        assert_eq!((r.check, r.result, r.problem), (Probe::Credentials, Verdict::Failed, Some(Problem::Unreachable)));
        assert_eq!(r.status, Some("unreachable"));
        assert!(r.fix.as_deref().unwrap().contains("endpoint_url"), "{r:?}");
    }
}

#[tokio::test]
async fn an_unknown_tenant_is_an_error_not_an_empty_check() {
    let w = World::start().await;
    let aws = AwsAccess::new(&AwsSettings { region: "us-east-1".into(), ..Default::default() }).await;
    let err =
        check::run(&w.fleet, &w.catalog, &aws, &CheckOptions { tenant: Some("nope".into()), ..CheckOptions::at(0) })
            .await
            .unwrap_err();
    assert!(err.to_string().contains("no tenant \"nope\""), "{err}");
    assert!(w.sim.requests().is_empty(), "nothing was called");
}

// ---------------------------------------------------------------------------
// The binary

pub(crate) fn fleetdeck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", SimFleet::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SimFleet::SECRET_ACCESS_KEY)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run fleetdeck")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_status_is_0_when_every_check_passes_1_when_a_tenant_fails_2_for_a_bad_fleet_file() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, w.sim.fleet_toml()).unwrap();
    let file = path.to_str().unwrap();

    let out = fleetdeck(&["check", "--fleet", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(" 0 failed"), "{text}");

    let (gone, account, _) = w.silo_tenants().remove(0);
    w.knobs(SimKnobs { deny_assume_role: vec![account], ..SimKnobs::default() });
    let out = fleetdeck(&["check", "--fleet", file]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text.lines().find(|l| l.starts_with(&format!("{gone} "))).unwrap();
    assert!(line.contains("credentials  FAILED: cannot assume role (trust policy / ExternalId)"), "{line}");
    assert!(text.contains("    fix: missing trust relationship or wrong ExternalId"), "{text}");

    let out = fleetdeck(&["check", "--fleet", file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("check --json prints JSON");
    let failed: Vec<&serde_json::Value> = rows.iter().filter(|r| r["result"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["tenant"], gone.as_str());
    assert_eq!(failed[0]["problem"], "trust_policy");

    // A passing tenant alone passes.
    let ok = &w.fleet.tenants.iter().find(|t| t.id != gone).unwrap().id;
    assert_eq!(fleetdeck(&["check", "--fleet", file, "--tenant", ok]).status.code(), Some(0));

    std::fs::write(&path, w.sim.fleet_toml().replace("home_region = \"us-east-1\"", "home_region = \"us-est-1\""))
        .unwrap();
    let out = fleetdeck(&["check", "--fleet", file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{file}:")) && err.contains(": tenant[0].home_region: unknown region \"us-est-1\""),
        "{err}"
    );
    // Each problem said once (the error chain once repeated the message).
    let first = err.lines().next().unwrap_or_default().trim_start_matches("fleetdeck: ").to_string();
    assert_eq!(err.matches(first.as_str()).count(), 1, "said once: {err}");
}

#[test]
fn policy_prints_json_granting_tenants_and_the_payer_their_share_of_the_read_only_allowlist() {
    let out = fleetdeck(&["policy", "--external-id", "fleetdeck-acme-7f3a", "--trusted-account", "123456789012"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let actions: Vec<&str> = doc["permissions_policy"]["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let tenant: Vec<&str> = READ_ACTIONS
        .iter()
        .copied()
        .filter(|a| a.starts_with("cloudwatch:") || a.starts_with("logs:") || *a == "tag:GetResources")
        .collect();
    assert_eq!(actions, tenant, "a tenant grants CloudWatch, Logs and tagged-resource reads only, never its bill");
    assert_eq!(doc["permissions_policy"]["Statement"].as_array().unwrap().len(), 1);
    let trust = &doc["trust_policy"]["Statement"][0];
    assert_eq!(trust["Principal"]["AWS"], "arn:aws:iam::123456789012:root");
    assert_eq!(trust["Action"], serde_json::json!(["sts:AssumeRole", "sts:SetSourceIdentity"]));
    assert_eq!(trust["Condition"]["StringEquals"]["sts:ExternalId"], "fleetdeck-acme-7f3a");
    let notes = String::from_utf8_lossy(&out.stderr);
    assert!(notes.contains("# permissions_policy:") && notes.contains("# trust_policy:"), "{notes}");

    // One bare document, ready for `aws iam ... file://`; placeholders said.
    let out = fleetdeck(&["policy", "--only", "trust"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::<YOUR-FLEETDECK-ACCOUNT-ID>:root");
    assert!(String::from_utf8_lossy(&out.stderr).contains("replace <YOUR-FLEETDECK-ACCOUNT-ID>"));

    // The payer's role: Cost Explorer and Organizations, nothing else.
    let out = fleetdeck(&["policy", "--payer", "--only", "permissions"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let payer: Vec<&str> =
        doc["Statement"][0]["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let expected: Vec<&str> =
        READ_ACTIONS.iter().copied().filter(|a| a.starts_with("ce:") || a.starts_with("organizations:")).collect();
    assert_eq!(payer, expected);
    // Its trust policy demands no ExternalId: fleetdeck sends none for
    // payer_role_arn, so one demanded would lock fleetdeck out.
    let out = fleetdeck(&["policy", "--payer", "--only", "trust", "--trusted-account", "123456789012"]);
    assert!(out.status.success());
    let trust: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(trust["Statement"][0].get("Condition").is_none(), "{trust:#}");
    assert_eq!(fleetdeck(&["policy", "--payer", "--external-id", "abc"]).status.code(), Some(2));

    assert_eq!(fleetdeck(&["policy", "--trusted-account", "12345"]).status.code(), Some(2));
    assert_eq!(fleetdeck(&["policy", "--external-id", "x"]).status.code(), Some(2), "AWS needs 2+ characters");
}

/// The README's "Granting fleetdeck read-only access" shows the policies a
/// customer pastes; they must be what `fleetdeck policy` prints, or the
/// manual lies about what fleetdeck needs.
#[test]
fn the_readme_policies_are_the_ones_fleetdeck_prints() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Granting fleetdeck read-only access").nth(1).expect("the README section");
    let blocks: Vec<serde_json::Value> = section
        .split("```json")
        .skip(1)
        .take(3)
        .map(|b| serde_json::from_str(b.split("```").next().unwrap()).expect("a JSON block"))
        .collect();
    let printed = |args: &[&str]| -> serde_json::Value {
        let out = fleetdeck(args);
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(blocks[0], printed(&["policy", "--only", "permissions"]), "tenant permissions");
    assert_eq!(
        blocks[1],
        printed(&["policy", "--only", "trust", "--external-id", "fleetdeck-acme-7f3a"]),
        "trust policy"
    );
    assert_eq!(blocks[2], printed(&["policy", "--payer", "--only", "permissions"]), "payer permissions");
}

// ---------------------------------------------------------------------------
// moto

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";

fn moto_fleet(endpoint: &str) -> Fleet {
    let text = format!(
        r#"
[fleet]
name = "moto fleet"
region = "us-east-1"
role_name = "FleetdeckReadOnly"
endpoint_url = "{endpoint}"

[[tenant]]
id = "alpha"
tier = "standard"
model = "silo"
account = "{ACCOUNT_A}"
external_id = "ext-alpha"
home_region = "us-east-1"
selector.log_groups = ["/alpha/app"]

[[tenant]]
id = "beta"
tier = "standard"
model = "silo"
account = "{ACCOUNT_B}"
external_id = "ext-beta"
home_region = "us-east-1"
selector.log_groups = ["/alpha/*"]
"#
    );
    Fleet::parse(Path::new("fleet.toml"), &text, &Catalog::builtin().unwrap()).unwrap()
}

async fn moto_access(endpoint: &str, key: &str, secret: &str) -> AwsAccess {
    AwsAccess::new(&AwsSettings {
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint.into()),
        static_credentials: Some((key.into(), secret.into())),
        static_session_token: None,
        // moto answers what it lacks with 500; retrying that only waits.
        max_attempts: 1,
        ..Default::default()
    })
    .await
}

/// Create a log group as `account`, the way the tenant's application would.
async fn create_log_group(endpoint: &str, account: &str, name: &str) {
    let (base, creds) = fleetdeck_testkit::as_seeder(endpoint, account, "us-east-1").await;
    let conf = aws_sdk_cloudwatchlogs::config::Builder::from(&base).credentials_provider(creds).build();
    aws_sdk_cloudwatchlogs::Client::from_conf(conf).create_log_group().log_group_name(name).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_moto_a_granted_role_passes_and_a_log_group_of_another_account_is_not_found() {
    let moto = fleetdeck_testkit::moto();
    let proxy = fleetdeck_testkit::cbor_proxy::start(&moto.url).await;
    create_log_group(&proxy.url, ACCOUNT_A, "/alpha/app").await;
    let fleet = moto_fleet(&proxy.url);
    let aws = moto_access(&proxy.url, "AKIDFLEETDECK", "secret").await;
    let rows = check::run(&fleet, &Catalog::builtin().unwrap(), &aws, &CheckOptions::at(epoch_now())).await.unwrap();

    let alpha: Vec<(Probe, Verdict)> = rows_of(&rows, "alpha").iter().map(|r| (r.check, r.result)).collect();
    assert_eq!(
        alpha,
        vec![
            (Probe::Credentials, Verdict::Ok),
            (Probe::Cloudwatch, Verdict::Ok),
            (Probe::Alarms, Verdict::Ok),
            (Probe::Logs, Verdict::Ok)
        ],
        "{rows:#?}"
    );
    // beta's selector names alpha's group: it is in account A, invisible
    // from B, so beta's check finds nothing.
    let beta = rows_of(&rows, "beta");
    assert_eq!(
        beta.iter().map(|r| r.result).collect::<Vec<_>>(),
        [Verdict::Ok, Verdict::Ok, Verdict::Ok, Verdict::Failed]
    );
    assert_eq!(beta[3].problem, Some(Problem::NoLogGroup), "{:?}", beta[3]);
    assert!(beta[3].message.contains(&format!("account {ACCOUNT_B} region us-east-1")), "{}", beta[3].message);

    let sent = proxy.actions.lock().unwrap().clone();
    let after_seeding = sent.iter().rposition(|a| a == "logs:CreateLogGroup").unwrap();
    let mut fleetdecks: Vec<&str> = sent[after_seeding + 1..].iter().map(String::as_str).collect();
    fleetdecks.sort();
    assert_eq!(
        fleetdecks,
        [
            "logs:DescribeLogGroups",
            "logs:DescribeLogGroups",
            "logs:StartQuery",
            "logs:StopQuery",
            "monitoring:DescribeAlarmHistory",
            "monitoring:DescribeAlarmHistory",
            "monitoring:DescribeAlarms",
            "monitoring:DescribeAlarms",
            "monitoring:GetMetricData",
            "monitoring:GetMetricData",
            "sts:AssumeRole",
            "sts:AssumeRole",
            "sts:GetCallerIdentity"
        ],
        "one AssumeRole per tenant, one cheap read per action and region (StartQuery where a group was found)"
    );
}

/// A form-encoded IAM call to moto, as `account` (moto's own header: with
/// permission checks off it does not verify signatures).
fn moto_iam(url: &str, account: Option<&str>, params: &[(&str, &str)]) -> String {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .append_pair("Version", "2010-05-08")
        .finish();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.post(&format!("{url}/")).header("content-type", "application/x-www-form-urlencoded").header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
    );
    if let Some(a) = account {
        req = req.header("x-moto-account-id", a);
    }
    let mut resp = req.send(body).expect("moto iam");
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(resp.status().is_success(), "{params:?}: {text}");
    text
}

fn xml_value(xml: &str, tag: &str) -> String {
    let start = xml.find(&format!("<{tag}>")).unwrap_or_else(|| panic!("no {tag} in {xml}")) + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_string()
}

/// moto enforces the caller's own IAM policy on sts:AssumeRole (not trust
/// policies, not ExternalIds): an operator allowed to assume only alpha's
/// role fails at beta's credentials, and unknown keys fail everywhere as
/// invalid base credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_moto_an_identity_not_allowed_to_assume_a_role_fails_at_credentials() {
    let moto = fleetdeck_testkit::moto();
    let url = &moto.url;
    moto_iam(url, None, &[("Action", "CreateUser"), ("UserName", "operator")]);
    let key = moto_iam(url, None, &[("Action", "CreateAccessKey"), ("UserName", "operator")]);
    let (key_id, secret) = (xml_value(&key, "AccessKeyId"), xml_value(&key, "SecretAccessKey"));
    let alpha_role = format!("arn:aws:iam::{ACCOUNT_A}:role/FleetdeckReadOnly");
    let allow_alpha = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": alpha_role }]
    })
    .to_string();
    moto_iam(
        url,
        None,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "operator"),
            ("PolicyName", "ops"),
            ("PolicyDocument", &allow_alpha),
        ],
    );
    // The role exists in alpha's account (moto resolves an assumed role's
    // permissions from it).
    moto_iam(
        url,
        Some(ACCOUNT_A),
        &[("Action", "CreateRole"), ("RoleName", "FleetdeckReadOnly"), ("AssumeRolePolicyDocument", "{}")],
    );
    fleetdeck_testkit::moto_api(&moto, "/moto-api/reset-auth", "0");

    // Straight to moto: with permission checks on, moto verifies SigV4,
    // which signs the Host header a proxy changes. (CloudWatch, which needs
    // the proxy, is then unreadable: only credentials are asserted here.)
    let fleet = moto_fleet(url);
    let aws = moto_access(url, &key_id, &secret).await;
    let rows = check::run(&fleet, &Catalog::builtin().unwrap(), &aws, &CheckOptions::at(epoch_now())).await.unwrap();
    let creds = |tenant: &str| rows.iter().find(|r| r.tenant == tenant && r.check == Probe::Credentials).unwrap();
    assert_eq!(creds("alpha").result, Verdict::Ok, "{:?}", creds("alpha"));
    let beta = creds("beta");
    assert_eq!(
        (beta.result, beta.status, beta.problem),
        (Verdict::Failed, Some("access_denied"), Some(Problem::TrustPolicy)),
        "{beta:?}"
    );
    // (moto's error body is not the shape STS uses, so the SDK leaves it
    // unparsed and the message is the SDK's; the fix is still right.)
    assert!(beta.fix.as_deref().unwrap().contains("allowed sts:AssumeRole"), "{beta:?}");

    let stranger = moto_access(url, "AKIDNOBODYKNOWS", "secret").await;
    let rows =
        check::run(&fleet, &Catalog::builtin().unwrap(), &stranger, &CheckOptions::at(epoch_now())).await.unwrap();
    for r in &rows {
        assert_eq!((r.check, r.result, r.problem), (Probe::Credentials, Verdict::Failed, Some(Problem::BaseIdentity)));
        assert!(r.fix.as_deref().unwrap().contains("base identity"), "{r:?}");
    }
}
