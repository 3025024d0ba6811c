//! "Open in AWS console" signs the browser in as the tenant's own
//! read-only session, as the federation sign-in documents it, instead of
//! the switch-role page, which cannot send an ExternalId and drops the
//! session policy. The simulator's `/federation` endpoint follows the IAM
//! User Guide ("Enable custom identity broker access to the AWS console").

use fleetdeck_engine::catalog::Catalog;
use fleetdeck_engine::fleet::Model;
use fleetdeck_engine::signin;
use fleetdeck_testkit::world::{epoch_now, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_opens_signed_in_as_the_tenants_policy_bound_session() {
    let w = World::start_with(6, Catalog::builtin().unwrap(), epoch_now()).await;
    let aws = w.aws().await;
    let t = w.fleet.tenants.iter().find(|t| t.model == Model::Silo && t.external_id.is_some()).unwrap();
    let creds = aws.role(&t.role_arn, t.external_id.as_deref()).await;
    let page = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:";
    let url = signin::console_url(&aws, &creds, page).await.expect("a sign-in URL");

    let endpoint = format!("{}/federation", w.sim.endpoint().trim_end_matches('/'));
    assert!(url.starts_with(&format!("{endpoint}?Action=login&Issuer=")), "{url}");
    let query: Vec<(String, String)> = form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(param("Destination").as_deref(), Some(page));
    let token = param("SigninToken").expect("a sign-in token");
    assert!(!url.contains("sessionKey") && !url.contains("FwoG"), "no key or session token in the login URL: {url}");

    // The token stands for the tenant's session: its role, assumed with the
    // ExternalId, bound by the read-only session policy.
    let issued = w.sim.console_sign_ins();
    assert_eq!(issued.len(), 1, "{issued:#?}");
    let role = t.role_arn.rsplit('/').next().unwrap();
    assert_eq!(issued[0].token, token);
    assert_eq!(issued[0].caller_arn, format!("arn:aws:sts::{}:assumed-role/{role}/fleetdeck-demo", t.account));
    assert!(issued[0].session_policy, "the console session keeps the read-only session policy");

    // The browser following the link lands on the page, signed in.
    let agent = ureq::Agent::config_builder().max_redirects(0).http_status_as_error(false).build().new_agent();
    let answer = agent.get(&url).call().expect("the login answers");
    assert_eq!(answer.status(), 302);
    assert_eq!(answer.headers().get("location").and_then(|v| v.to_str().ok()), Some(page));
    assert_eq!(w.sim.console_sign_ins()[0].destination.as_deref(), Some(page));

    // Long-term keys cannot sign in: the endpoint wants a session.
    let refused = signin::console_url(&aws, &aws.base_credentials(), page).await.unwrap_err();
    assert!(refused.message.contains("needs a session"), "{refused:#?}");
    assert_eq!(w.sim.console_sign_ins().len(), 1, "nothing sent for long-term keys");
}
