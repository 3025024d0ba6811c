//! The peer pass's own tests.

use super::*;

/// A series of `tenant` in `region` whose level moved `change` times
/// its usual 100 (a gauge, so no pseudo-events).
fn level(tenant: &str, region: &str, tier: &str, change: f64) -> Level {
    Level {
        tenant_id: tenant.into(),
        region: region.into(),
        tier: tier.into(),
        metric_key: "latency_p99".into(),
        label: "p99 latency".into(),
        unit: "s".into(),
        recent: 100.0 * change,
        points: 20,
        usual: Some(100.0),
        like_days: true,
        summed_count: false,
        pool: None,
    }
}

/// Eight premium tenants, two regions, each within a few percent of its
/// usual level.
fn steady_tier() -> Vec<Level> {
    let wobble = [1.02, 0.97, 1.05, 0.99, 1.01, 0.96, 1.03, 1.0];
    (0..8)
        .map(|i| level(&format!("t{i}"), if i % 2 == 0 { "us-east-1" } else { "eu-west-1" }, "premium", wobble[i]))
        .collect()
}

fn none_open() -> HashSet<Subject> {
    HashSet::new()
}

#[test]
fn a_steady_tier_raises_nothing() {
    assert_eq!(find(&steady_tier(), &none_open()), vec![]);
}

/// A broken deploy: one tenant's p99 triples while its tier is steady.
/// Found, attributed to it, and explained against its tier.
#[test]
fn a_tenant_that_moves_while_its_tier_is_steady_departs() {
    let mut levels = steady_tier();
    levels[3].recent = 310.0;
    let found = find(&levels, &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!((f.kind, f.tenant_id.as_str(), f.region.as_str()), (PeerKind::Peer, "t3", "eu-west-1"));
    assert_eq!((f.direction, f.compared), (Direction::Up, 7));
    assert_eq!(
        f.title,
        "p99 latency 3.07x the premium tier's median change over 20 min while the tier is steady \
         (310 s against a usual 100 s in eu-west-1; 7 peers)"
    );
    // A fall departs too.
    levels[3].recent = 20.0;
    let found = find(&levels, &none_open());
    assert_eq!(found.iter().map(|f| f.direction).collect::<Vec<_>>(), vec![Direction::Down]);
}

/// Scale does not matter: a tenant fifty times bigger moving 1.1x is as
/// steady as a small one moving 1.1x.
#[test]
fn scale_is_no_departure() {
    let mut levels = steady_tier();
    levels[0].recent = 5000.0 * 1.1;
    levels[0].usual = Some(5000.0);
    levels[1].recent = 2.0 * 0.95;
    levels[1].usual = Some(2.0);
    assert_eq!(find(&levels, &none_open()), vec![]);
}

/// One error against a usual 0.2 a minute is not "5x": summed counts
/// count ten events more on both sides. A hundred more is an outage.
#[test]
fn a_few_events_on_a_small_count_are_no_departure() {
    let mut levels: Vec<Level> =
        steady_tier().into_iter().map(|l| Level { summed_count: true, recent: 0.2, usual: Some(0.2), ..l }).collect();
    levels[2].recent = 0.2 + 5.0 / 20.0;
    assert_eq!(find(&levels, &none_open()), vec![]);
    levels[2].recent = 0.2 + 100.0 / 20.0;
    let found = find(&levels, &none_open());
    assert_eq!(found.iter().map(|f| f.tenant_id.as_str()).collect::<Vec<_>>(), vec!["t2"]);
}

/// A region's slowdown: every tenant there doubles, across tiers. One
/// shift, its members named, and no peer departure for any of them
/// (although each departs from its tier, whose other regions are
/// steady).
#[test]
fn a_region_that_moves_together_is_one_shift_and_no_departures() {
    let mut levels = steady_tier();
    for (i, tier) in ["premium", "standard", "free", "premium", "standard"].iter().enumerate() {
        levels.push(level(&format!("ap{i}"), "ap-southeast-2", tier, 2.0 + 0.05 * i as f64));
    }
    for i in 0..6 {
        levels.push(level(&format!("s{i}"), "us-east-1", if i % 2 == 0 { "standard" } else { "free" }, 1.0));
    }
    let found = find(&levels, &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(
        (f.kind, f.tenant_id.as_str(), f.region.as_str(), f.tier.as_str()),
        (PeerKind::Fleet, "*", "ap-southeast-2", "*")
    );
    assert_eq!((f.moved, f.compared, f.direction), (5, 5, Direction::Up));
    assert_eq!(f.members.len(), 5);
    assert!(f.members.iter().all(|(_, r)| r == "ap-southeast-2"));
    assert!(f.title.starts_with("p99 latency 2.1x its usual level across ap-southeast-2: 5 of 5"), "{}", f.title);
}

/// When the whole fleet moves, that is one shift of the whole fleet,
/// not one per region and per tier.
#[test]
fn the_whole_fleet_moving_is_one_shift() {
    let mut levels = steady_tier();
    for l in &mut levels {
        l.recent *= 1.8;
    }
    for i in 0..4 {
        levels.push(level(&format!("s{i}"), "ap-southeast-2", "standard", 1.75));
    }
    let found = find(&levels, &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].region.as_str(), found[0].tier.as_str(), found[0].moved), ("*", "*", 12));
    assert!(found[0].title.contains("across the whole fleet"), "{}", found[0].title);
}

/// Most of a tier moved: those who did not are not departures (the
/// tier is not steady), and the tier's shift is the news.
#[test]
fn the_ones_left_behind_by_a_shifting_tier_do_not_depart() {
    let mut levels = steady_tier();
    for l in levels.iter_mut().take(6) {
        l.recent *= 2.5;
    }
    // Another tier, steady, so the tier's shift is not the whole fleet's.
    for i in 0..8 {
        levels.push(level(&format!("f{i}"), "us-east-1", "free", 1.0 + 0.01 * i as f64));
    }
    let found = find(&levels, &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].kind, found[0].tier.as_str(), found[0].moved), (PeerKind::Fleet, "premium", 6));
}

/// Usual levels from days of another kind (a Monday judged against a
/// Sunday): everybody moving with the day is no shift, but a region
/// moving against the rest of the fleet still is.
#[test]
fn against_another_kind_of_day_a_group_is_judged_against_the_rest() {
    let mut levels = steady_tier();
    for l in &mut levels {
        l.recent *= 1.6;
        l.like_days = false;
    }
    assert_eq!(find(&levels, &none_open()), vec![]);

    for i in 0..5 {
        let mut l = level(&format!("ap{i}"), "ap-southeast-2", "standard", 1.6 * 2.0);
        l.like_days = false;
        levels.push(l);
    }
    let found = find(&levels, &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].region.as_str(), found[0].moved), ("ap-southeast-2", 5));
    assert!(
        found[0].title.starts_with("p99 latency 1.94x the fleet's median change across ap-southeast-2"),
        "{}",
        found[0].title
    );
}

/// On a Monday against a Sunday every tenant's errors rise with its
/// traffic, here 1.8x. A tenant with few errors then seems to lag: its
/// change is damped by the pseudo-events ((11.7 + 10) / (6.5 + 10) =
/// 1.32x where its peers read about 1.7x), and a chance low count (2
/// where 11.7 were due, p about 7e-4) reads "0.44x the tier's median
/// change". The bug this pins (seen on the simulated fleet on Monday
/// 2026-12-07, 13:19 to 13:22 UTC): that was a peer departure, and its
/// tenant was paged for having fewer errors than usual. A departure of a
/// summed count must also be unlikely for the count itself: its events
/// against what its peers' median raw change makes of its usual count,
/// as Poisson, at the tail of the departure's 5 spreads.
#[test]
fn a_small_count_lagging_a_tier_that_moved_with_the_day_by_chance_is_no_departure() {
    let usual = [6.5, 40.0, 55.0, 80.0, 120.0, 30.0, 60.0, 90.0];
    let day = 1.8;
    let mut levels: Vec<Level> = steady_tier()
        .into_iter()
        .zip(usual)
        .map(|(l, u)| Level {
            summed_count: true,
            metric_key: "errors".into(),
            label: "5xx errors".into(),
            unit: "per minute".into(),
            usual: Some(u / 20.0),
            recent: u * day / 20.0,
            like_days: false,
            ..l
        })
        .collect();
    levels[0].recent = 2.0 / 20.0;
    assert_eq!(find(&levels, &none_open()), vec![], "2 events where 11.7 were due");
    // A broken deploy at the same small tenant still departs.
    levels[0].recent = 60.0 / 20.0;
    let found = find(&levels, &none_open());
    assert_eq!(
        found.iter().map(|f| (f.tenant_id.as_str(), f.direction)).collect::<Vec<_>>(),
        vec![("t0", Direction::Up)]
    );
    // And one whose errors stopped where 216 were due.
    levels[0].recent = 2.0 / 20.0;
    levels[4].recent = 0.0;
    let found = find(&levels, &none_open());
    assert_eq!(
        found.iter().map(|f| (f.tenant_id.as_str(), f.direction)).collect::<Vec<_>>(),
        vec![("t4", Direction::Down)]
    );
}

/// Too few peers to know what "usual for the tier" is.
#[test]
fn a_tier_of_three_tenants_is_not_judged() {
    let mut levels: Vec<Level> = steady_tier().into_iter().take(4).collect();
    levels[0].recent = 500.0;
    assert_eq!(find(&levels, &none_open()), vec![]);
}

/// An ongoing departure is held at half its bar: one that fades to 1.7x
/// (under the 2x that starts one) goes on; at 1.2x it ends.
#[test]
fn an_ongoing_departure_is_held_to_half_its_bar() {
    let mut levels = steady_tier();
    levels[3].recent = 170.0;
    assert_eq!(find(&levels, &none_open()), vec![]);
    let open: HashSet<Subject> =
        [(PeerKind::Peer, "t3".to_string(), "eu-west-1".to_string(), "premium".to_string(), "latency_p99".to_string())]
            .into();
    assert_eq!(find(&levels, &open).len(), 1);
    levels[3].recent = 120.0;
    assert_eq!(find(&levels, &open), vec![]);
}

fn finding(change: f64) -> Finding {
    Finding {
        kind: PeerKind::Peer,
        tenant_id: "t3".into(),
        region: "eu-west-1".into(),
        tier: "premium".into(),
        metric_key: "errors".into(),
        direction: Direction::Up,
        change,
        peer_change: 1.0,
        moved: 1,
        compared: 7,
        title: format!("{change}x"),
        members: vec![],
    }
}

#[test]
fn episodes_start_continue_keep_their_peak_and_end() {
    let t = 1_800_000_000;
    let first = carry(&[], vec![finding(5.0)], t - WINDOW_SECS, t);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].start, first[0].through, first[0].end), (t - WINDOW_SECS, t, None));

    // Five minutes later, smaller: continued, its peak kept.
    let second = carry(&first, vec![finding(3.0)], t + 300 - WINDOW_SECS, t + 300);
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].start, second[0].through, second[0].title.as_str()), (t - WINDOW_SECS, t + 300, "5x"));
    let third = carry(&second, vec![finding(8.0)], t + 600 - WINDOW_SECS, t + 600);
    assert_eq!((third[0].start, third[0].title.as_str()), (t - WINDOW_SECS, "8x"));

    // Not found again: it ends at its last window.
    let ended = carry(&third, vec![], t + 900 - WINDOW_SECS, t + 900);
    assert_eq!((ended[0].start, ended[0].end), (t - WINDOW_SECS, Some(t + 600)));

    // Found again after syncs stopped for an hour and a half: a new
    // episode.
    let later = carry(&third, vec![finding(5.0)], t + 5400 - WINDOW_SECS, t + 5400);
    let mut starts: Vec<(i64, Option<i64>)> = later.iter().map(|r| (r.start, r.end)).collect();
    starts.sort();
    assert_eq!(starts, vec![(t - WINDOW_SECS, Some(t + 600)), (t + 5400 - WINDOW_SECS, None)]);
}

#[test]
fn a_shift_gathers_its_members_across_syncs() {
    let t = 1_800_000_000;
    let shift = |members: &[&str]| Finding {
        kind: PeerKind::Fleet,
        tenant_id: "*".into(),
        tier: "*".into(),
        change: 2.0,
        peer_change: 2.0,
        members: members.iter().map(|m| (m.to_string(), "eu-west-1".to_string())).collect(),
        ..finding(2.0)
    };
    let first = carry(&[], vec![shift(&["a", "b", "c"])], t - WINDOW_SECS, t);
    let second = carry(&first, vec![shift(&["b", "c", "d"])], t + 300 - WINDOW_SECS, t + 300);
    let names: Vec<&str> = second[0].members.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}

/// The usual level: interpolated between the hours around the time,
/// the median over like days, and days of another kind only when there
/// are no like ones.
#[test]
fn the_usual_level_is_the_median_of_like_days_between_their_hours() {
    // Wednesday 2027-01-13 14:10 UTC.
    let mid = 1_800_000_000 - 1_800_000_000 % DAY - 2 * DAY + 14 * HOUR + 600;
    assert!(!weekend(mid) && weekend(mid - 4 * DAY) && weekend(mid - 3 * DAY), "the premise: Sat and Sun");
    let mut hourly = HashMap::new();
    for d in 1..=7 {
        let t = mid - d * DAY;
        let hour = t - t.rem_euclid(HOUR);
        // 13:00-14:00 averages 90, 14:00-15:00 110: at 14:10, 90 + 20 * 40/60.
        let bump = if d == 2 { 1000.0 } else { 0.0 };
        hourly.insert(hour - HOUR, 90.0 + bump);
        hourly.insert(hour, 110.0 + bump);
    }
    // Weekend days much lower: left out.
    for d in [3, 4] {
        let t = mid - d * DAY;
        let hour = t - t.rem_euclid(HOUR);
        hourly.insert(hour - HOUR, 10.0);
        hourly.insert(hour, 10.0);
    }
    let (usual, like) = usual_level(mid, &hourly).unwrap();
    assert!(like);
    assert!((usual - (90.0 + 20.0 * 40.0 / 60.0)).abs() < 1e-9, "{usual}");
    // Only the weekend left: used, and said so.
    let weekend_only: HashMap<i64, f64> = hourly.iter().filter(|(b, _)| weekend(**b)).map(|(b, v)| (*b, *v)).collect();
    assert_eq!(usual_level(mid, &weekend_only), Some((10.0, false)));
    assert_eq!(usual_level(mid, &HashMap::new()), None);
    assert_eq!(baseline_buckets(mid).len(), 2 * BASELINE_DAYS as usize);
    assert!(baseline_buckets(mid).iter().all(|b| b % HOUR == 0));
}

/// One metric of a tenant of the pooled account "555555555555" in
/// us-east-1, moved `change` times its usual 100.
fn pooled(tenant: &str, metric: &str, change: f64) -> Level {
    Level {
        metric_key: metric.into(),
        label: if metric == "requests" { "Requests".into() } else { "p99 latency".into() },
        pool: Some("555555555555".into()),
        ..level(tenant, "us-east-1", "standard", change)
    }
}

/// A pool of three: `loads` and `latencies` per tenant a, b, c; the rest
/// of the fleet (eight tenants of their own accounts) steady.
fn pool(loads: [f64; 3], latencies: [f64; 3]) -> Vec<Level> {
    let names = ["a", "b", "c"];
    let mut out = Vec::new();
    for i in 0..3 {
        out.push(pooled(names[i], "requests", loads[i]));
        out.push(pooled(names[i], "latency_p99", latencies[i]));
    }
    for l in steady_tier() {
        out.push(Level { metric_key: "requests".into(), label: "Requests".into(), ..l.clone() });
        out.push(l);
    }
    out
}

#[test]
fn a_tenant_whose_load_slows_its_pool_mates_is_named_as_their_noisy_neighbour() {
    let found = neighbours(&pool([4.0, 1.05, 0.98], [1.1, 2.4, 2.0]), &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!((f.kind, f.tenant_id.as_str(), f.tier.as_str()), (PeerKind::Neighbour, "a", "555555555555"));
    assert_eq!(f.members, [("b".to_string(), "us-east-1".to_string()), ("c".to_string(), "us-east-1".to_string())]);
    assert!(f.title.starts_with("noisy neighbour: a requests 3.96x the fleet's change"), "{}", f.title);
    assert!(f.title.contains("2 of its 2 pool-mates' p99 latency rose 2.16x"), "{}", f.title);
}

#[test]
fn no_neighbour_is_named_when_the_load_is_not_one_tenants_or_nobody_suffers() {
    // Two tenants' load rose: not one tenant's doing.
    assert!(neighbours(&pool([4.0, 3.0, 1.0], [1.0, 2.0, 2.0]), &none_open()).is_empty());
    // The pool-mates are slow under their own load.
    assert!(neighbours(&pool([4.0, 1.6, 1.7], [1.0, 2.0, 2.0]), &none_open()).is_empty());
    // Load rose, nobody slowed down.
    assert!(neighbours(&pool([4.0, 1.0, 1.0], [1.0, 1.1, 1.0]), &none_open()).is_empty());
    // Tenants that own their accounts share no pool.
    let own: Vec<Level> =
        pool([4.0, 1.0, 1.0], [1.0, 2.0, 2.0]).into_iter().map(|l| Level { pool: None, ..l }).collect();
    assert!(neighbours(&own, &none_open()).is_empty());
}

#[test]
fn a_busier_fleet_moves_the_bar_with_it() {
    // Every tenant's load reads 1.6x (a usual level from another kind of
    // day): the pool-mates at 1.7x are steady, the noisy one at 6.4x is 4x.
    let busier: Vec<Level> = pool([6.4, 1.7, 1.6], [1.1, 2.4, 2.0])
        .into_iter()
        .map(|l| if l.metric_key == "requests" && l.pool.is_none() { Level { recent: l.recent * 1.6, ..l } } else { l })
        .collect();
    let found = neighbours(&busier, &none_open());
    assert_eq!(found.iter().map(|f| f.tenant_id.as_str()).collect::<Vec<_>>(), ["a"]);
}

#[test]
fn on_an_eks_cluster_a_namespace_whose_pods_multiplied_is_named_when_the_others_cpu_rose() {
    let eks = |tenant: &str, metric: &str, change: f64| Level {
        label: if metric == "pods" { "Running pods".into() } else { "Pod CPU".into() },
        ..pooled(tenant, metric, change)
    };
    let mut levels = vec![
        eks("a", "pods", 3.0),
        eks("a", "cpu", 1.0),
        eks("b", "pods", 1.0),
        eks("b", "cpu", 1.8),
        eks("c", "pods", 1.05),
        eks("c", "cpu", 1.7),
    ];
    for l in steady_tier() {
        levels.push(Level { metric_key: "pods".into(), ..l.clone() });
        levels.push(Level { metric_key: "cpu".into(), ..l });
    }
    let found = neighbours(&levels, &none_open());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].tenant_id.as_str(), found[0].metric_key.as_str()), ("a", "pods"));
    assert!(found[0].title.contains("running pods 2.97x the fleet's change"), "{}", found[0].title);
}

/// A tier's peer median without one tenant, found by skipping that
/// tenant's places in the sorted tier, is the one [`median`] finds over the
/// peers gathered one by one: odd and even counts, ties, a tenant with
/// several regions, one with none, explained members left out.
#[test]
fn the_peer_median_without_a_tenant_is_the_median_of_the_others() {
    let changes = [1.3, 0.8, 1.0, 1.0, 2.5, 0.4, 1.1, 1.0, 0.9, 3.0, 1.2, 0.7, 1.0];
    let levels: Vec<Level> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| level(&format!("t{}", i % 5), ["us-east-1", "eu-west-1", "ap-south-1"][i % 3], "premium", *c))
        .collect();
    let members: Vec<(usize, f64)> = levels.iter().enumerate().map(|(i, l)| (i, l.change().unwrap().ln())).collect();
    for explained in [HashSet::new(), HashSet::from([2, 9]), HashSet::from([0, 1, 4, 12])] {
        let sorted = SortedPeers::new(&levels, &members, &explained);
        for tenant in ["t0", "t1", "t2", "t3", "t4", "nobody"] {
            let mut others: Vec<f64> = members
                .iter()
                .filter(|(j, _)| levels[*j].tenant_id != tenant && !explained.contains(j))
                .map(|(_, x)| *x)
                .collect();
            let expected = (!others.is_empty()).then(|| median(&mut others));
            assert_eq!(sorted.median_without(tenant), expected, "{tenant} with {explained:?} explained");
        }
    }
}

#[test]
fn poisson_tails_match_their_sums() {
    // P(X <= 2 | 11.7) = e^-11.7 (1 + 11.7 + 11.7^2 / 2).
    let exact = (-11.7f64).exp() * (1.0 + 11.7 + 11.7 * 11.7 / 2.0);
    assert!((poisson_lower(2.0, 11.7) / exact - 1.0).abs() < 1e-9);
    assert!((poisson_lower(0.0, 6.25) / (-6.25f64).exp() - 1.0).abs() < 1e-12);
    // Both tails of the same count add up to 1 plus the point itself.
    for (k, lambda) in [(40.0, 40.0), (35.0, 36.5), (100.0, 99.2)] {
        let total = poisson_lower(k, lambda + 1e-9) + poisson_upper(k, lambda) - poisson_ln_pmf(k, lambda).exp();
        assert!((total - 1.0).abs() < 1e-6, "{k} {lambda}: {total}");
    }
    assert!(poisson_upper(74.0, 3.5) < 1e-40);
    assert_eq!((poisson_upper(0.0, 0.0), poisson_upper(3.0, 0.0)), (1.0, 0.0));
}
