//! The sync's tag step: which resources carry each tenant's cost
//! allocation tag, per account-region ([`crate::tags`]), read again every
//! [`crate::tags::REFRESH_SECS`] or when the account-region's tenants
//! changed, and each tenant-region's dimension values from it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sts::config::SharedCredentialsProvider;

use super::{own_target, Run};
use crate::cache::CacheError;
use crate::catalog::Catalog;
use crate::collect;
use crate::fleet::Tenant;
use crate::plan::Target;
use crate::tags::{self, TaggedResource};

/// Resources a GetResources page returns at most.
const PER_PAGE: i32 = 100;

/// Each tenant-region's dimension values: the fleet file's, and for the
/// names it leaves out, the values found by the tenant's tag.
#[derive(Debug, Default)]
pub(crate) struct Selectors {
    /// Per tenant-region, the values its tag found, per dimension name.
    found: HashMap<(String, String), BTreeMap<String, Vec<String>>>,
    /// Tenant-regions whose tag read failed this sync, and why.
    failed: HashMap<(String, String), crate::aws::Failure>,
}

/// Where a series' dimension values came from.
pub(crate) struct Values {
    pub values: Vec<String>,
    pub from_tag: bool,
}

impl Selectors {
    /// The values of `dimension` for a tenant in a region, if any.
    pub fn values(&self, t: &Tenant, region: &str, dimension: &str) -> Option<Values> {
        if let Some(v) = t.dimensions_in(region).get(dimension) {
            return Some(Values { values: v.clone(), from_tag: false });
        }
        let values = self.found.get(&(t.id.clone(), region.to_string()))?.get(dimension)?.clone();
        Some(Values { values, from_tag: true })
    }

    /// Why the tenant's tag read in this region failed this sync, if it did.
    pub fn failure(&self, t: &Tenant, region: &str) -> Option<&crate::aws::Failure> {
        self.failed.get(&(t.id.clone(), region.to_string()))
    }

    /// Every dimension value of a tenant in a region, typed or found.
    pub fn all(&self, t: &Tenant, region: &str) -> BTreeMap<String, Vec<String>> {
        let mut out = self.found.get(&(t.id.clone(), region.to_string())).cloned().unwrap_or_default();
        out.extend(t.dimensions_in(region).iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// Does the tenant leave out a dimension its tag could supply?
pub fn needs_tags(t: &Tenant, catalog: &Catalog) -> bool {
    !t.model.owns_account()
        && catalog
            .metrics_for(t.model)
            .flat_map(|spec| spec.dimensions.iter())
            .any(|d| !t.selector.dimensions.contains_key(d) && tags::taggable(t.model, d))
}

/// Read (or reuse) the tag maps of the account-regions whose tenants need
/// them; a failed read keeps the map read before and says so in the
/// tenant-regions' `tags` source.
pub(super) async fn read(
    run: &Run<'_>,
    reachable: &[&Tenant],
    has_creds: &(dyn Fn(&Target) -> bool + Sync),
    provider_for: &(dyn Fn(&Target) -> SharedCredentialsProvider + Sync),
) -> Result<Selectors, CacheError> {
    // Read in the tenant's own account, through its own role: the
    // monitoring account sees linked accounts' metrics and logs, not their
    // tags.
    let mut by_target: BTreeMap<Target, Vec<(&Tenant, String)>> = BTreeMap::new();
    for t in reachable.iter().filter(|t| needs_tags(t, run.catalog)) {
        for region in t.regions() {
            if let Some(own) = own_target(t, region).filter(|o| has_creds(o)) {
                by_target.entry(own).or_default().push((t, region.to_string()));
            }
        }
    }
    let mut selectors = Selectors::default();
    for (target, tenants) in &by_target {
        let mut ids: Vec<String> = tenants.iter().map(|(t, _)| t.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let who = ids.join(",");
        let due = match run.cache.tags_read(&target.account, &target.region).await? {
            Some((at, read_for)) => run.opts.now - at >= tags::REFRESH_SECS || read_for != who,
            None => true,
        };
        if due {
            let client = run.aws.tagging(&provider_for(target), &target.region);
            let tag = &run.fleet.cost_tag;
            match collect::tagged_resources(&client, run.aws, target, tag, &ids, PER_PAGE).await {
                Ok(found) => {
                    run.cache.put_tagged(&target.account, &target.region, &found, run.opts.now, &who).await?;
                    for (t, region) in tenants {
                        run.record(&t.id, region, "tags", Ok(())).await?;
                    }
                }
                Err(f) => {
                    for (t, region) in tenants {
                        selectors.failed.insert((t.id.clone(), region.clone()), f.clone());
                    }
                    let f = crate::aws::Failure {
                        message: format!("{} (the resources found before, if any, are used)", f.message),
                        ..f
                    };
                    for (t, region) in tenants {
                        run.record(&t.id, region, "tags", Err(&f)).await?;
                    }
                }
            }
        }
        // Kept by AWS region; looked up by the tenant's name for it.
        let found = run.cache.tagged(&target.account, &target.region).await?;
        for (t, region) in tenants {
            let mine: Vec<TaggedResource> = found.iter().filter(|r| r.tenant == t.id).cloned().collect();
            if !mine.is_empty() {
                selectors.found.insert((t.id.clone(), region.clone()), tags::values(&mine));
            }
        }
    }
    run.flush().await?;
    Ok(selectors)
}
