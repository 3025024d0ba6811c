//! The fleet's own tests.

use super::*;

fn fleet(n: usize) -> Fleet {
    Fleet::generate(&SimOptions {
        seed: 7,
        tenants: n,
        now: 1_795_300_000,
        shape: None,
        realistic: false,
        noisy_neighbour: false,
        monitoring: false,
    })
}

#[test]
fn the_default_fleet_has_the_documented_mix() {
    let f = fleet(24);
    let count = |m: Model| f.tenants.iter().filter(|t| t.model == m).count();
    assert_eq!(
        [count(Model::Silo), count(Model::Remote), count(Model::Shared), count(Model::Eks), count(Model::Pooled)],
        [7, 3, 5, 5, 4]
    );
    let ids: HashSet<&str> = f.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 24, "ids are unique");
    for id in ["globex", "initech", "hooli", "tyrell"] {
        assert!(ids.contains(id), "{id}");
    }
    for t in &f.tenants {
        assert_eq!(t.account.len(), 12);
        assert!(t.account.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(t.external_id.is_some(), t.model.owns_account());
    }
    let silo_accounts: HashSet<&str> =
        f.tenants.iter().filter(|t| t.model.owns_account()).map(|t| t.account.as_str()).collect();
    assert_eq!(silo_accounts.len(), 10, "one account per silo/remote tenant");
}

#[test]
fn the_same_seed_makes_the_same_fleet_and_another_seed_another() {
    let a = fleet(24);
    let b = fleet(24);
    assert_eq!(a.tenants, b.tenants);
    let c = Fleet::generate(&SimOptions {
        seed: 8,
        tenants: 24,
        now: 1_795_300_000,
        shape: None,
        realistic: false,
        noisy_neighbour: false,
        monitoring: false,
    });
    assert_ne!(a.tenants[3].account, c.tenants[3].account);
}

#[test]
fn small_and_large_fleets_keep_ids_unique() {
    let small = fleet(5);
    let models: HashSet<Model> = small.tenants.iter().map(|t| t.model).collect();
    assert_eq!(models.len(), 5, "five tenants cover all five models");
    let big = fleet(300);
    let ids: HashSet<&str> = big.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 300);
    assert!(big
        .tenants
        .iter()
        .all(|t| t.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')));
}

#[test]
fn the_f200_shape_has_its_accounts_regions_and_metrics() {
    let f = Fleet::generate(&SimOptions {
        seed: 7,
        tenants: 0,
        now: 1_795_300_000,
        shape: Some(super::super::SimShape::f200()),
        realistic: false,
        noisy_neighbour: false,
        monitoring: false,
    });
    assert_eq!(f.tenants.len(), 200);
    let own: HashSet<&str> = f.tenants.iter().filter(|t| t.model.owns_account()).map(|t| t.account.as_str()).collect();
    assert_eq!(own.len(), 150, "one account each");
    assert_eq!(f.tenants[0].id, "globex");
    assert!(f.error_spike.is_some(), "globex keeps its incident");
    assert_eq!(f.pooled_accounts.len(), 2);
    for pool in &f.pooled_accounts {
        assert_eq!(f.tenants.iter().filter(|t| t.model == Model::Pooled && &t.account == pool).count(), 25);
    }
    assert!(f.tenants.iter().all(|t| t.regions().len() == 3));
    assert_eq!(f.metrics.len(), 200 * 3 * 20);
    let ids: HashSet<&str> = f.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 200);
    let pooled = f.tenants.iter().find(|t| t.model == Model::Pooled).expect("a pooled tenant");
    let hit = f.find_metric(&pooled.account, "ap-southeast-2", SYNTHETIC_NAMESPACE, "Synthetic17", &pooled.dimensions);
    assert!(hit.is_some());
    let catalog = f.synthetic_catalog_toml();
    let doc: toml::Value = toml::from_str(&catalog).expect("valid TOML");
    let entries = doc["metric"].as_array().expect("[[metric]]");
    assert_eq!(entries.len(), 2 * 17, "17 fillers for the ALB models and for pooled");
    assert_eq!(entries[0]["key"].as_str(), Some("synthetic_01"));
}

#[test]
fn toml_strings_escape_quotes_backslashes_and_controls() {
    assert_eq!(toml_str(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    assert_eq!(toml_str("x\ny\u{1}"), "\"x\\ny\\u0001\"");
    assert_eq!(toml_key("LoadBalancer"), "LoadBalancer");
    assert_eq!(toml_key("a.b"), "\"a.b\"");
}
