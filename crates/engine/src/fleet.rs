//! The fleet file: which tenants exist, how each is isolated, and where its
//! telemetry lives. Parsing is two steps, as in ripgrep's flags: TOML into
//! span-carrying raw structs, then validation into [`Fleet`], collecting every
//! problem with its file, line and field.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::catalog::Catalog;
use crate::input::{InputError, Problems};

pub use crate::catalog::Model;

/// Regions fleetdeck knows; an unknown one is almost always a typo.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// The whole fleet, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub name: String,
    pub region: String,
    pub profile: Option<String>,
    pub payer_account: Option<String>,
    pub payer_role_arn: Option<String>,
    pub cost_tag: String,
    pub endpoint_url: Option<String>,
    pub tenants: Vec<Tenant>,
    /// How long the cache keeps each kind of row (`[retention]`).
    pub retention: Retention,
    /// How shared spend no tag can split is shared out (`[apportion]`).
    pub apportion: Option<Apportion>,
    /// The most an open console's API calls may cost a month, for the
    /// whole team (`[fleet] monthly_api_budget`, dollars at list prices);
    /// a viewer's own, if lower, wins ([`crate::spend::budget`]).
    pub monthly_api_budget: Option<f64>,
    /// The provider's monitoring account (`[monitoring]`): CloudWatch
    /// cross-account observability, through which linked tenants are read.
    pub monitoring: Option<Monitoring>,
}

/// `[monitoring]`: a monitoring account with an OAM sink in each of its
/// regions, to which tenants' accounts link ("CloudWatch cross-account
/// observability", CloudWatch User Guide). One role there reads every
/// linked account's metrics and logs in a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitoring {
    pub account: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    /// The regions with a sink: a linked tenant's regions must be among them.
    pub regions: Vec<String>,
    /// The fleet-file line of `[monitoring]`.
    pub line: usize,
}

/// Pooled infrastructure (a shared cluster, its load balancer) carries no
/// tenant's tag: its cost is shared out to tenants in proportion to a usage
/// metric of theirs, e.g. requests served this month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Apportion {
    /// A catalog metric key measuring each tenant's use (summed per month).
    pub metric: String,
    /// The untagged services that are shared infrastructure; empty means
    /// all untagged spend is.
    pub services: Vec<String>,
    /// Per model (`shared`, `eks`, `pooled`): the usage metric its pools
    /// are shared out by, instead of `metric` (`eks = "pods"`: pod count,
    /// summed over the month, is pod-hours).
    #[serde(default)]
    pub by_model: std::collections::BTreeMap<String, String>,
}

impl Apportion {
    /// The usage metric a pool of `model` tenants is shared out by: the
    /// fleet file's choice for the model, else pods for an EKS cluster
    /// (EKS namespaces serve no requests fleetdeck sees), else `metric`.
    pub fn metric_for(&self, model: &str) -> &str {
        match self.by_model.get(model) {
            Some(m) => m,
            None if model == "eks" => "pods",
            None => &self.metric,
        }
    }
}

impl Default for Apportion {
    fn default() -> Apportion {
        Apportion { metric: "requests".into(), services: Vec::new(), by_model: Default::default() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub model: Model,
    pub account: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub home_region: String,
    pub extra_regions: Vec<String>,
    /// Failover regions, idle until the tenant fails over: read like the
    /// others (a failover shows in them), but idle there is "standby", not
    /// unknown. They come last in [`Tenant::regions`].
    pub standby_regions: Vec<String>,
    pub residency: bool,
    /// Personal data (e-mail and IP addresses) is redacted from what is
    /// cached for this tenant: residency tenants, and every tenant when
    /// `[fleet] redact_personal_data = true`. Secrets are redacted for all.
    pub redact_personal: bool,
    pub selector: Selector,
    /// The fleet-file line of its `[[tenant]]` table, for fixes that name
    /// where to look (0 where the tenant did not come from a file).
    pub line: usize,
    /// Its other accounts (staging, a remote data plane), each reached its
    /// own way (`[[tenant.environment]]`). Their regions are named
    /// `<region>@<environment>` wherever a region is ([`Tenant::regions`]).
    pub environments: Vec<Environment>,
    /// Read through the monitoring account (`via = "monitoring"`): its
    /// account is linked to the sink, so its metrics and logs are read
    /// there, and its alarms are those the monitoring account holds. Its
    /// own role (`role_arn` non-empty) is then optional: with one, its own
    /// account's alarms and tag map are read too.
    pub monitored: bool,
}

/// Another account of a tenant: where it is, how it is reached, and the
/// regions read there.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// `staging`, `dr`...: a-z, 0-9 and '-'.
    pub name: String,
    pub account: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub regions: Vec<String>,
    /// `<region>@<name>` of each region, as the tenant's regions name them.
    pub labels: Vec<String>,
    /// Its own dimension values (another account has other load
    /// balancers); `None`: the tenant's.
    pub dimensions: Option<BTreeMap<String, Vec<String>>>,
}

/// Where one of a tenant's regions is: the account, how it is reached,
/// and the AWS region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place<'a> {
    pub account: &'a str,
    pub role_arn: &'a str,
    pub external_id: Option<&'a str>,
    pub region: &'a str,
    /// The environment's name; `None` in the tenant's own account.
    pub environment: Option<&'a str>,
}

/// The AWS region of a region name: `us-east-1@staging` is `us-east-1`.
pub fn aws_region(name: &str) -> &str {
    name.split_once('@').map_or(name, |(r, _)| r)
}

impl Tenant {
    /// Home region first, then the extra ones, the standby ones, and those
    /// of its other environments (`us-east-1@staging`).
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.home_region.as_str())
            .chain(self.extra_regions.iter().map(String::as_str))
            .chain(self.standby_regions.iter().map(String::as_str))
            .chain(self.environments.iter().flat_map(|e| e.labels.iter().map(String::as_str)))
    }

    /// The dimension values of its resources in region `name`: an
    /// environment's own, else the tenant's.
    pub fn dimensions_in(&self, name: &str) -> &BTreeMap<String, Vec<String>> {
        let env = name.split_once('@').map(|(_, e)| e);
        self.environments
            .iter()
            .find(|e| Some(e.name.as_str()) == env)
            .and_then(|e| e.dimensions.as_ref())
            .unwrap_or(&self.selector.dimensions)
    }

    /// Whether it names a role of its own (a tenant read only through the
    /// monitoring account may not).
    pub fn has_role(&self) -> bool {
        !self.role_arn.is_empty()
    }

    /// Where region `name` (as [`Tenant::regions`] names it) is read.
    pub fn place<'a>(&'a self, name: &'a str) -> Place<'a> {
        if let Some((region, env)) = name.split_once('@') {
            if let Some(e) = self.environments.iter().find(|e| e.name == env) {
                return Place {
                    account: &e.account,
                    role_arn: &e.role_arn,
                    external_id: e.external_id.as_deref(),
                    region,
                    environment: Some(&e.name),
                };
            }
        }
        Place {
            account: &self.account,
            role_arn: &self.role_arn,
            external_id: self.external_id.as_deref(),
            region: name,
            environment: None,
        }
    }
}

/// Where a tenant's data is within its account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Dimension values of the tenant's resources, defaults filled in;
    /// several per name when it has several (two load balancers). Names
    /// left out that a tag can supply ([`crate::tags`]) are found by the
    /// tenant's cost allocation tag at sync.
    pub dimensions: BTreeMap<String, Vec<String>>,
    pub log_groups: Vec<String>,
    pub log_tenant_field: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    fleet: RawFleet,
    #[serde(default)]
    tenant: Vec<Spanned<RawTenant>>,
    retention: Option<RawRetention>,
    apportion: Option<RawApportion>,
    monitoring: Option<Spanned<RawMonitoring>>,
}

/// `[monitoring]`: the monitoring account, its role and its sinks' regions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitoring {
    account: Spanned<String>,
    role_arn: Option<Spanned<String>>,
    role_name: Option<Spanned<String>>,
    external_id: Option<Spanned<String>>,
    regions: Spanned<Vec<Spanned<String>>>,
}

/// `[apportion]`: which usage metric shares out untagged spend.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApportion {
    metric: Spanned<String>,
    #[serde(default)]
    services: Vec<Spanned<String>>,
    #[serde(default)]
    by_model: std::collections::BTreeMap<String, Spanned<String>>,
}

/// `[retention]`: days kept, each optional (defaults in
/// [`Retention`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    raw_days: Option<Spanned<i64>>,
    hourly_days: Option<Spanned<i64>>,
    daily_days: Option<Spanned<i64>>,
    events_days: Option<Spanned<i64>>,
    cost_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    name: Option<String>,
    region: Spanned<String>,
    profile: Option<String>,
    payer_account: Option<Spanned<String>>,
    payer_role_arn: Option<Spanned<String>>,
    cost_tag: Option<Spanned<String>>,
    role_name: Option<Spanned<String>>,
    endpoint_url: Option<Spanned<String>>,
    /// Redact personal data (e-mail and IP addresses) from every tenant's
    /// cached text, not only data-residency tenants'.
    #[serde(default)]
    redact_personal_data: bool,
    monthly_api_budget: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    id: Spanned<String>,
    name: Option<String>,
    tier: Spanned<String>,
    model: Spanned<String>,
    account: Spanned<String>,
    role_arn: Option<Spanned<String>>,
    role_name: Option<Spanned<String>>,
    external_id: Option<Spanned<String>>,
    home_region: Spanned<String>,
    #[serde(default)]
    extra_regions: Vec<Spanned<String>>,
    #[serde(default)]
    standby_regions: Vec<Spanned<String>>,
    #[serde(default)]
    residency: bool,
    #[serde(default)]
    selector: RawSelector,
    #[serde(default)]
    environment: Vec<Spanned<RawEnvironment>>,
    /// `"role"` (the default) or `"monitoring"`.
    via: Option<Spanned<String>>,
}

/// `[[tenant.environment]]`: another account of the tenant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    name: Spanned<String>,
    account: Spanned<String>,
    role_arn: Option<Spanned<String>>,
    role_name: Option<Spanned<String>>,
    external_id: Option<Spanned<String>>,
    #[serde(default)]
    regions: Vec<Spanned<String>>,
    #[serde(default)]
    selector: Option<RawEnvironmentSelector>,
}

/// An environment's own `selector.dimensions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironmentSelector {
    dimensions: BTreeMap<String, Spanned<DimensionValues>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSelector {
    #[serde(default)]
    dimensions: BTreeMap<String, Spanned<DimensionValues>>,
    #[serde(default)]
    log_groups: Vec<Spanned<String>>,
    log_tenant_field: Option<Spanned<String>>,
}

/// `LoadBalancer = "app/web/1"` or `LoadBalancer = ["app/web/1", "app/api/2"]`.
#[derive(Deserialize)]
#[serde(untagged, expecting = "a dimension value (a string) or a list of them")]
enum DimensionValues {
    One(String),
    Many(Vec<String>),
}

impl DimensionValues {
    fn into_vec(self) -> Vec<String> {
        match self {
            DimensionValues::One(v) => vec![v],
            DimensionValues::Many(v) => v,
        }
    }
}

/// Errors from reading a fleet file: the file itself, or its contents.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    // Each message is whole: `{:#}` printing (anyhow's chain) must not
    // repeat it, so neither variant has a `source`.
    #[error("cannot read fleet file {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] InputError),
}

impl Fleet {
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Fleet, FleetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|cause| FleetError::Read { path: path.display().to_string(), cause })?;
        Ok(Fleet::parse(path, &text, catalog)?)
    }

    /// Parse and validate. `path` only names the file in messages.
    pub fn parse(path: &Path, text: &str, catalog: &Catalog) -> Result<Fleet, InputError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| Problems::from_toml(path, text, &e))?;
        let mut p = Problems::new(path, text);

        let f = raw.fleet;
        check_region(&mut p, &f.region, "fleet.region");
        if let Some(a) = &f.payer_account {
            check_account(&mut p, a, "fleet.payer_account");
        }
        if let Some(arn) = &f.payer_role_arn {
            check_role_arn(&mut p, arn, "fleet.payer_role_arn");
        }
        if let Some(tag) = &f.cost_tag {
            if tag.get_ref().trim().is_empty() || tag.get_ref().len() > 128 {
                p.add(tag.span(), "fleet.cost_tag", "must be a tag key of 1 to 128 characters");
            }
        }
        if let Some(url) = &f.endpoint_url {
            let u = url.get_ref();
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                p.add(url.span(), "fleet.endpoint_url", format!("{u:?} is not an http(s) URL"));
            }
        }

        if let Some(b) = &f.monthly_api_budget {
            if !(b.get_ref().is_finite() && *b.get_ref() > 0.0) {
                p.add(b.span(), "fleet.monthly_api_budget", "must be a number of dollars above 0");
            }
        }

        let monitoring = raw.monitoring.map(|m| {
            let span = m.span();
            let m = m.into_inner();
            check_account(&mut p, &m.account, "monitoring.account");
            if m.regions.get_ref().is_empty() {
                p.add(m.regions.span(), "monitoring.regions", "must list the regions where the account has a sink");
            }
            let mut regions: Vec<String> = Vec::new();
            for r in m.regions.get_ref() {
                check_region(&mut p, r, "monitoring.regions");
                if regions.contains(r.get_ref()) {
                    p.add(r.span(), "monitoring.regions", format!("region {:?} is listed twice", r.get_ref()));
                }
                regions.push(r.get_ref().clone());
            }
            let role = RoleFields { arn: &m.role_arn, name: &m.role_name, fleet_name: &None };
            let at = |field: &str| format!("monitoring.{field}");
            let home = regions.first().cloned().unwrap_or_else(|| f.region.get_ref().clone());
            let role_arn = role.resolve(&mut p, (&m.account, &home), span.clone(), &at);
            if let Some(x) = &m.external_id {
                check_external_id(&mut p, x, "monitoring.external_id");
            }
            Monitoring {
                account: m.account.into_inner(),
                role_arn,
                external_id: m.external_id.map(Spanned::into_inner),
                regions,
                line: crate::input::line_of(text, span.start),
            }
        });

        let redact_personal_data = f.redact_personal_data;
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut tenants = Vec::with_capacity(raw.tenant.len());
        for (i, t) in raw.tenant.into_iter().enumerate() {
            let span = t.span();
            let t = t.into_inner();
            let at = |field: &str| format!("tenant[{i}].{field}");
            let id = t.id.get_ref().clone();
            if !valid_tenant_id(&id) {
                p.add(
                    t.id.span(),
                    at("id"),
                    format!("{id:?} must be 1-63 of a-z, 0-9 and '-', starting with a letter or digit"),
                );
            }
            if let Some(first) = seen.insert(id.clone(), crate::input::line_of(text, span.start)) {
                p.add(t.id.span(), at("id"), format!("duplicate tenant id {id:?} (first defined on line {first})"));
            }
            let model = Model::parse(t.model.get_ref());
            if model.is_none() {
                p.add(
                    t.model.span(),
                    at("model"),
                    format!(
                        "unknown isolation model {:?}; use one of silo, remote, shared, eks, pooled",
                        t.model.get_ref()
                    ),
                );
            }
            if t.tier.get_ref().trim().is_empty() {
                p.add(t.tier.span(), at("tier"), "must not be empty");
            }
            check_account(&mut p, &t.account, &at("account"));
            check_region(&mut p, &t.home_region, &at("home_region"));
            let mut regions = BTreeSet::from([t.home_region.get_ref().clone()]);
            for (r, field) in t
                .extra_regions
                .iter()
                .map(|r| (r, "extra_regions"))
                .chain(t.standby_regions.iter().map(|r| (r, "standby_regions")))
            {
                check_region(&mut p, r, &at(field));
                if !regions.insert(r.get_ref().clone()) {
                    p.add(r.span(), at(field), format!("region {:?} is listed twice", r.get_ref()));
                }
            }

            let monitored = match t.via.as_ref().map(|v| (v, v.get_ref().as_str())) {
                None | Some((_, "role")) => false,
                Some((v, "monitoring")) => {
                    match &monitoring {
                        None => p.add(
                            v.span(),
                            at("via"),
                            "the fleet file has no [monitoring] section naming the monitoring account",
                        ),
                        Some(m) => {
                            for r in regions.iter().filter(|r| !m.regions.contains(r)) {
                                p.add(
                                    v.span(),
                                    at("via"),
                                    format!(
                                        "the tenant runs in {r}, where the monitoring account has no sink \
                                         (monitoring.regions, line {})",
                                        m.line
                                    ),
                                );
                            }
                        }
                    }
                    true
                }
                Some((v, other)) => {
                    p.add(v.span(), at("via"), format!("{other:?} must be \"role\" or \"monitoring\""));
                    false
                }
            };
            // A tenant read through the monitoring account needs no role of
            // its own: the fleet's default role name does not apply to it,
            // only a role it names itself.
            let role = RoleFields {
                arn: &t.role_arn,
                name: &t.role_name,
                fleet_name: if monitored { &None } else { &f.role_name },
            };
            let has_role = !monitored || t.role_arn.is_some() || t.role_name.is_some();
            let role_arn = if has_role {
                role.resolve(&mut p, (&t.account, t.home_region.get_ref()), span.clone(), &at)
            } else {
                String::new()
            };
            if let Some(x) = &t.external_id {
                check_external_id(&mut p, x, &at("external_id"));
            } else if has_role && matches!(model, Some(Model::Silo | Model::Remote)) {
                p.add(
                    span.clone(),
                    at("external_id"),
                    format!(
                        "required for model {}: the tenant's role trust policy should demand it",
                        t.model.get_ref()
                    ),
                );
            }

            let mut dimensions: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in t.selector.dimensions {
                let span = v.span();
                let values = v.into_inner().into_vec();
                let field = at(&format!("selector.dimensions.{k}"));
                if values.is_empty() {
                    p.add(span.clone(), field.clone(), "must list at least one value");
                }
                if values.iter().any(|v| v.is_empty() || v.len() > 1024) {
                    p.add(span, field, "each value must be 1-1024 characters");
                }
                dimensions.insert(k, values);
            }
            if let Some(dim) = model.and_then(Model::tenant_dimension) {
                dimensions.entry(dim.to_string()).or_insert_with(|| vec![id.clone()]);
            }
            // A whole-account tenant may start without dimension values (as
            // `fleetdeck discover` writes it): its alarms, logs and cost are
            // read, and its metrics are reported "not configured" with the
            // fix. In a shared account they are what tells tenants apart:
            // the ones a resource's tag can supply (a load balancer, a
            // database) are found by the tenant's tag at sync, the others
            // (an EKS cluster's name) must be given.
            if let Some(m) = model.filter(|m| !m.owns_account()) {
                let missing: BTreeSet<&str> = catalog
                    .metrics_for(m)
                    .flat_map(|spec| spec.dimensions.iter().map(String::as_str))
                    .filter(|d| !dimensions.contains_key(*d) && !crate::tags::taggable(m, d))
                    .collect();
                if !missing.is_empty() {
                    let names: Vec<&str> = missing.into_iter().collect();
                    p.add(
                        span.clone(),
                        at("selector.dimensions"),
                        format!("missing {} (the catalog's {} metrics are selected by it)", names.join(", "), m),
                    );
                }
            }
            for g in &t.selector.log_groups {
                let v = g.get_ref();
                let name = v.strip_suffix('*').unwrap_or(v);
                if name.is_empty() || name.len() > 512 || name.contains('*') {
                    p.add(
                        g.span(),
                        at("selector.log_groups"),
                        format!("{v:?} must be a log group name, or a prefix ending in one '*'"),
                    );
                }
            }
            let log_tenant_field = t.selector.log_tenant_field.as_ref().map(|f| {
                let v = f.get_ref();
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c)) {
                    p.add(
                        f.span(),
                        at("selector.log_tenant_field"),
                        format!("{v:?} must be a Logs Insights field name (letters, digits, _ . @ -)"),
                    );
                }
                v.clone()
            });

            let mut environments = Vec::new();
            for (k, e) in t.environment.into_iter().enumerate() {
                let span = e.span();
                let e = e.into_inner();
                let at = |field: &str| format!("tenant[{i}].environment[{k}].{field}");
                let name = e.name.get_ref();
                if !valid_tenant_id(name) {
                    p.add(e.name.span(), at("name"), format!("{name:?} must be 1-63 of a-z, 0-9 and '-'"));
                }
                if environments.iter().any(|x: &Environment| &x.name == name) {
                    p.add(e.name.span(), at("name"), format!("environment {name:?} is listed twice"));
                }
                check_account(&mut p, &e.account, &at("account"));
                let regions: Vec<String> = if e.regions.is_empty() {
                    vec![t.home_region.get_ref().clone()]
                } else {
                    e.regions.iter().map(|r| r.get_ref().clone()).collect()
                };
                for r in &e.regions {
                    check_region(&mut p, r, &at("regions"));
                }
                let role = RoleFields { arn: &e.role_arn, name: &e.role_name, fleet_name: &f.role_name };
                let role_arn = role.resolve(&mut p, (&e.account, &regions[0]), span.clone(), &at);
                let dimensions = e.selector.map(|sel| {
                    let mut out = BTreeMap::new();
                    for (d, v) in sel.dimensions {
                        let span = v.span();
                        let values = v.into_inner().into_vec();
                        if values.is_empty() || values.iter().any(|v| v.is_empty() || v.len() > 1024) {
                            p.add(span, at(&format!("selector.dimensions.{d}")), "must list 1-1024 character values");
                        }
                        out.insert(d, values);
                    }
                    out
                });
                environments.push(Environment {
                    dimensions,
                    name: name.clone(),
                    account: e.account.get_ref().clone(),
                    role_arn,
                    // The tenant's ExternalId unless the environment has its own.
                    external_id: e
                        .external_id
                        .as_ref()
                        .map(|x| x.get_ref().clone())
                        .or_else(|| t.external_id.as_ref().map(|x| x.get_ref().clone())),
                    labels: regions.iter().map(|r| format!("{r}@{name}")).collect(),
                    regions,
                });
            }

            tenants.push(Tenant {
                environments,
                name: t.name.clone().unwrap_or_else(|| id.clone()),
                id,
                tier: t.tier.into_inner(),
                model: model.unwrap_or(Model::Silo),
                account: t.account.into_inner(),
                role_arn,
                external_id: t.external_id.map(Spanned::into_inner),
                home_region: t.home_region.into_inner(),
                extra_regions: t.extra_regions.into_iter().map(Spanned::into_inner).collect(),
                standby_regions: t.standby_regions.into_iter().map(Spanned::into_inner).collect(),
                residency: t.residency,
                redact_personal: t.residency || redact_personal_data,
                selector: Selector {
                    dimensions,
                    log_groups: t.selector.log_groups.into_iter().map(Spanned::into_inner).collect(),
                    log_tenant_field,
                },
                line: crate::input::line_of(text, span.start),
                monitored,
            });
        }

        let mut retention = Retention::default();
        if let Some(r) = &raw.retention {
            let max = Retention::MAX_DAYS;
            let fields = [
                (&r.raw_days, "retention.raw_days", 1, &mut retention.raw_days),
                (&r.hourly_days, "retention.hourly_days", 1, &mut retention.hourly_days),
                (&r.daily_days, "retention.daily_days", 1, &mut retention.daily_days),
                (&r.events_days, "retention.events_days", 1, &mut retention.events_days),
                (&r.cost_days, "retention.cost_days", Retention::MIN_COST_DAYS, &mut retention.cost_days),
            ];
            for (value, field, min, into) in fields {
                let Some(v) = value else { continue };
                match u32::try_from(*v.get_ref()).ok().filter(|d| (min..=max).contains(d)) {
                    Some(days) => *into = days,
                    None if field == "retention.cost_days" => p.add(
                        v.span(),
                        field,
                        format!("must be {min} to {max} days: the cost view reads this month and the last"),
                    ),
                    None => p.add(v.span(), field, format!("must be {min} to {max} days")),
                }
            }
        }

        let apportion = raw.apportion.map(|a| {
            let key = a.metric.get_ref();
            if !catalog.metrics.iter().any(|m| &m.key == key) {
                let known: Vec<&str> = catalog.metrics.iter().map(|m| m.key.as_str()).collect();
                p.add(
                    a.metric.span(),
                    "apportion.metric",
                    format!("{key:?} is not a catalog metric key (one of: {})", known.join(", ")),
                );
            }
            for s in a.services.iter().filter(|s| s.get_ref().trim().is_empty()) {
                p.add(s.span(), "apportion.services", "a service name must not be empty");
            }
            for (model, metric) in &a.by_model {
                if !matches!(model.as_str(), "shared" | "eks" | "pooled") {
                    p.add(
                        metric.span(),
                        "apportion.by_model",
                        format!("{model:?} is not a model whose tenants share an account (shared, eks, pooled)"),
                    );
                }
                if !catalog.metrics.iter().any(|m| &m.key == metric.get_ref()) {
                    p.add(
                        metric.span(),
                        "apportion.by_model",
                        format!("{:?} is not a catalog metric key", metric.get_ref()),
                    );
                }
            }
            Apportion {
                metric: a.metric.into_inner(),
                services: a.services.into_iter().map(Spanned::into_inner).collect(),
                by_model: a.by_model.into_iter().map(|(k, v)| (k, v.into_inner())).collect(),
            }
        });

        let fleet = Fleet {
            name: f.name.unwrap_or_else(|| "fleet".to_string()),
            region: f.region.into_inner(),
            profile: f.profile,
            payer_account: f.payer_account.map(Spanned::into_inner),
            payer_role_arn: f.payer_role_arn.map(Spanned::into_inner),
            cost_tag: f.cost_tag.map(Spanned::into_inner).unwrap_or_else(|| "tenant-id".to_string()),
            endpoint_url: f.endpoint_url.map(Spanned::into_inner),
            tenants,
            retention,
            apportion,
            monthly_api_budget: f.monthly_api_budget.map(Spanned::into_inner),
            monitoring,
        };
        p.finish(fleet)
    }

    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The monitoring account a tenant's region (as [`Tenant::regions`]
    /// names it) is read through, if it is: a linked tenant's own regions;
    /// its other environments are reached through their own roles.
    pub fn monitoring_for(&self, t: &Tenant, region: &str) -> Option<&Monitoring> {
        self.monitoring
            .as_ref()
            .filter(|m| t.monitored && !region.contains('@') && m.regions.iter().any(|r| r == region))
    }
}

/// A tenant's (or an environment's) role fields and the fleet's default.
struct RoleFields<'a> {
    arn: &'a Option<Spanned<String>>,
    name: &'a Option<Spanned<String>>,
    fleet_name: &'a Option<Spanned<String>>,
}

impl RoleFields<'_> {
    /// The role ARN: `role_arn` (checked, and in `account`), else
    /// `role_name` here or in `[fleet]` in `account`; a problem (and an
    /// empty ARN) when none is given. `at` names a field of the table.
    fn resolve(
        &self,
        p: &mut Problems,
        (account, region): (&Spanned<String>, &str),
        table: std::ops::Range<usize>,
        at: &dyn Fn(&str) -> String,
    ) -> String {
        match (self.arn, self.name, self.fleet_name) {
            (Some(arn), _, _) => {
                check_role_arn(p, arn, &at("role_arn"));
                if let Some(acct) = arn_account(arn.get_ref()).filter(|a| a != account.get_ref()) {
                    p.add(
                        arn.span(),
                        at("role_arn"),
                        format!("role is in account {acct} but the account is {}", account.get_ref()),
                    );
                }
                arn.get_ref().clone()
            }
            (None, Some(name), _) | (None, None, Some(name)) => {
                if !valid_role_name(name.get_ref()) {
                    p.add(name.span(), at("role_name"), format!("{:?} is not a valid IAM role name", name.get_ref()));
                }
                format!("arn:{}:iam::{}:role/{}", partition_of(region), account.get_ref(), name.get_ref())
            }
            (None, None, None) => {
                p.add(table, at("role_arn"), "no role: set role_arn or role_name here, or role_name in [fleet]");
                String::new()
            }
        }
    }
}

fn valid_tenant_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn check_account(p: &mut Problems, a: &Spanned<String>, field: &str) {
    let v = a.get_ref();
    if v.len() != 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        p.add(
            a.span(),
            field,
            format!("{v:?} is not a 12-digit AWS account id (quote it: account = \"012345678901\")"),
        );
    }
}

fn check_external_id(p: &mut Problems, x: &Spanned<String>, field: &str) {
    let v = x.get_ref();
    let ok = (2..=1224).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
    if !ok {
        p.add(x.span(), field, "must be 2-1224 characters of letters, digits and +=,.@:/-_");
    }
}

fn check_region(p: &mut Problems, r: &Spanned<String>, field: &str) {
    let v = r.get_ref();
    if !KNOWN_REGIONS.contains(&v.as_str()) {
        let hint = KNOWN_REGIONS
            .iter()
            .find(|k| k.replace('-', "") == v.replace(['-', '_', ' '], "").to_lowercase())
            .map(|k| format!(" (did you mean {k:?}?)"))
            .unwrap_or_default();
        p.add(r.span(), field, format!("unknown region {v:?}{hint}"));
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path/>name`.
fn check_role_arn(p: &mut Problems, arn: &Spanned<String>, field: &str) {
    let v = arn.get_ref();
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|rest| {
            let name = rest.rsplit('/').next().unwrap_or("");
            valid_role_name(name)
        });
    if !ok {
        p.add(
            arn.span(),
            field,
            format!("{v:?} is not an IAM role ARN like arn:aws:iam::123456789012:role/FleetdeckReadOnly"),
        );
    }
}

fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| a.len() == 12)
}

fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// How long each kind of row is kept, in days. The fleet file's
/// `[retention]` table overrides the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Retention {
    /// Raw metric datapoints.
    pub raw_days: u32,
    /// Hourly summaries (min, max, mean) of each series: charts over weeks.
    pub hourly_days: u32,
    /// Daily summaries: charts over months and years.
    pub daily_days: u32,
    /// Ended anomaly episodes (each series' own, peer departures and fleet
    /// shifts), alarm state changes, Logs Insights results of tenant-regions
    /// no longer read, and past syncs' records.
    pub events_days: u32,
    /// Daily cost: 400 days covers a year-on-year comparison.
    pub cost_days: u32,
}

impl Retention {
    /// The cost view reads the current and the last calendar month: less
    /// than this would empty it.
    pub const MIN_COST_DAYS: u32 = 62;
    pub const MAX_DAYS: u32 = 3650;
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { raw_days: 35, hourly_days: 180, daily_days: 800, events_days: 180, cost_days: 400 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Fleet, InputError> {
        Fleet::parse(Path::new("fleet.toml"), text, &Catalog::builtin().unwrap())
    }

    const HEAD: &str = "[fleet]\nregion = \"us-east-1\"\nrole_name = \"FleetdeckReadOnly\"\n";

    #[test]
    fn the_readme_example_parses_with_every_model() {
        let text = include_str!("../../../examples/fleet.toml");
        let fleet = parse(text).unwrap();
        assert_eq!(fleet.tenants.len(), 5);
        let models: BTreeSet<Model> = fleet.tenants.iter().map(|t| t.model).collect();
        assert_eq!(models.len(), 5);
        let hooli = fleet.tenant("hooli").unwrap();
        assert_eq!(hooli.selector.dimensions["Namespace"], ["hooli"]);
        let umbrella = fleet.tenant("umbrella").unwrap();
        assert_eq!(
            umbrella.selector.dimensions["TenantId"],
            ["umbrella"],
            "pooled tenants default TenantId to their id"
        );
        assert_eq!(umbrella.role_arn, "arn:aws:iam::555555555555:role/FleetdeckReadOnly");
        assert_eq!(fleet.tenant("globex").unwrap().role_arn, "arn:aws:iam::222222222222:role/GlobexVendorReadOnly");
        assert_eq!(fleet.cost_tag, "tenant-id");
    }

    #[test]
    fn personal_data_is_redacted_for_residency_tenants_and_for_all_when_the_fleet_says_so() {
        let tenants = "[[tenant]]\nid = \"a\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\n\
                       [[tenant]]\nid = \"b\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\nresidency = true\n";
        let f = parse(&format!("{HEAD}{tenants}")).unwrap();
        let flags: Vec<(bool, usize)> = f.tenants.iter().map(|t| (t.redact_personal, t.line)).collect();
        assert_eq!(flags, [(false, 4), (true, 10)], "residency only; lines of each [[tenant]]");
        let f = parse(&format!("{HEAD}redact_personal_data = true\n{tenants}")).unwrap();
        assert!(f.tenants.iter().all(|t| t.redact_personal));
    }

    #[test]
    fn a_duplicate_tenant_id_names_both_lines() {
        let text = format!(
            "{HEAD}[[tenant]]\nid = \"a\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\n\
             [[tenant]]\nid = \"a\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\n"
        );
        let err = parse(&text).unwrap_err();
        let p = &err.problems[0];
        assert_eq!((p.line, p.field.as_str()), (11, "tenant[1].id"));
        assert!(p.message.contains("duplicate tenant id \"a\" (first defined on line 4)"), "{}", p.message);
    }

    #[test]
    fn bad_arn_unknown_region_and_unknown_model_are_all_reported_with_lines() {
        let text = format!(
            "{HEAD}[[tenant]]\nid = \"acme\"\ntier = \"gold\"\nmodel = \"siloed\"\naccount = \"111111111111\"\n\
             role_arn = \"arn:aws:iam::11111111111:user/x\"\nhome_region = \"us-east-l\"\nextra_regions = [\"euwest1\"]\n"
        );
        let err = parse(&text).unwrap_err();
        let got: Vec<(usize, &str)> = err.problems.iter().map(|p| (p.line, p.field.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (7, "tenant[0].model"),
                (9, "tenant[0].role_arn"),
                (10, "tenant[0].home_region"),
                (11, "tenant[0].extra_regions")
            ]
        );
        assert!(
            err.to_string().contains(
                "fleet.toml:11: tenant[0].extra_regions: unknown region \"euwest1\" (did you mean \"eu-west-1\"?)"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_missing_selector_dimension_no_tag_can_supply_is_named_in_a_shared_account() {
        let tenant = |model: &str| {
            format!("{HEAD}[[tenant]]\nid = \"acme\"\ntier = \"t\"\nmodel = \"{model}\"\nexternal_id = \"xx-1\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\n")
        };
        let err = parse(&tenant("eks")).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].field, "tenant[0].selector.dimensions");
        assert!(err.problems[0].message.contains("missing ClusterName"), "{}", err.problems[0].message);
        let fleet = parse(&tenant("shared")).expect("a shared tenant's load balancers are found by its tag");
        assert!(fleet.tenants[0].selector.dimensions.is_empty());
        let fleet = parse(&tenant("silo")).expect("a silo tenant may start without dimension values");
        assert!(fleet.tenants[0].selector.dimensions.is_empty());
    }

    #[test]
    fn a_dimension_takes_one_value_or_a_list_of_them() {
        let tenant = |dims: &str| {
            format!("{HEAD}[[tenant]]\nid = \"acme\"\ntier = \"t\"\nmodel = \"shared\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\nselector.dimensions = {{ {dims} }}\n")
        };
        let f = parse(&tenant("LoadBalancer = \"app/a/1\"")).unwrap();
        assert_eq!(f.tenants[0].selector.dimensions["LoadBalancer"], ["app/a/1"]);
        let f = parse(&tenant("LoadBalancer = [\"app/a/1\", \"app/b/2\"]")).unwrap();
        assert_eq!(f.tenants[0].selector.dimensions["LoadBalancer"], ["app/a/1", "app/b/2"]);
        let err = parse(&tenant("LoadBalancer = []")).unwrap_err();
        assert!(
            err.to_string()
                .contains("fleet.toml:10: tenant[0].selector.dimensions.LoadBalancer: must list at least one value"),
            "{err}"
        );
        let err = parse(&tenant("LoadBalancer = 5")).unwrap_err();
        assert!(err.to_string().contains("a dimension value (a string) or a list of them"), "{err}");
    }

    #[test]
    fn a_tenant_names_its_other_accounts_each_with_its_role_and_regions() {
        let text = format!(
            "{HEAD}[[tenant]]\nid = \"acme\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"111111111111\"\nexternal_id = \"x-1\"\nhome_region = \"us-east-1\"\n\
             [[tenant.environment]]\nname = \"staging\"\naccount = \"222222222222\"\nselector.dimensions = {{ LoadBalancer = \"app/s/1\" }}\n\
             [[tenant.environment]]\nname = \"dr\"\naccount = \"333333333333\"\nrole_name = \"Reader\"\nexternal_id = \"x-dr\"\nregions = [\"eu-west-1\"]\n"
        );
        let f = parse(&text).unwrap();
        let t = &f.tenants[0];
        assert_eq!(t.regions().collect::<Vec<_>>(), ["us-east-1", "us-east-1@staging", "eu-west-1@dr"]);
        let staging = t.place("us-east-1@staging");
        assert_eq!(
            (staging.account, staging.role_arn, staging.external_id, staging.region),
            ("222222222222", "arn:aws:iam::222222222222:role/FleetdeckReadOnly", Some("x-1"), "us-east-1")
        );
        let dr = t.place("eu-west-1@dr");
        assert_eq!((dr.role_arn, dr.external_id), ("arn:aws:iam::333333333333:role/Reader", Some("x-dr")));
        assert_eq!(t.dimensions_in("us-east-1@staging")["LoadBalancer"], ["app/s/1"]);
        assert!(t.dimensions_in("eu-west-1@dr").is_empty(), "the tenant's own (none here)");
        assert_eq!(t.place("us-east-1").account, "111111111111");

        let bad = text.replace("name = \"dr\"", "name = \"staging\"").replace("\"333333333333\"", "\"3333\"");
        let err = parse(&bad).unwrap_err().to_string();
        assert!(err.contains("tenant[0].environment[1].name: environment \"staging\" is listed twice"), "{err}");
        assert!(err.contains("tenant[0].environment[1].account: \"3333\" is not a 12-digit AWS account id"), "{err}");
    }

    #[test]
    fn toml_shape_errors_name_line_and_table() {
        let text = format!("{HEAD}[[tenant]]\nid = \"acme\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"111111111111\"\nhome_region = \"us-east-1\"\ncolour = \"red\"\n");
        let err = parse(&text).unwrap_err();
        let p = &err.problems[0];
        assert!(p.message.contains("unknown field `colour`"), "{}", p.message);
        assert_eq!(p.line, 10);
        let err = parse("[fleet]\nregion = 5\n").unwrap_err();
        assert_eq!((err.problems[0].line, err.problems[0].field.as_str()), (2, "fleet"));
    }

    #[test]
    fn an_unquoted_account_id_gets_a_hint() {
        let text = format!("{HEAD}[[tenant]]\nid = \"acme\"\ntier = \"t\"\nmodel = \"pooled\"\naccount = \"11111\"\nhome_region = \"us-east-1\"\n");
        let err = parse(&text).unwrap_err();
        assert!(
            err.to_string().contains("fleet.toml:8: tenant[0].account: \"11111\" is not a 12-digit AWS account id"),
            "{err}"
        );
    }

    #[test]
    fn a_monthly_api_budget_for_the_team_is_dollars_above_zero() {
        assert_eq!(parse(HEAD).unwrap().monthly_api_budget, None);
        let with = |v: &str| HEAD.replacen("[fleet]\n", &format!("[fleet]\nmonthly_api_budget = {v}\n"), 1);
        assert_eq!(parse(&with("300")).unwrap().monthly_api_budget, Some(300.0));
        assert_eq!(parse(&with("49.5")).unwrap().monthly_api_budget, Some(49.5));
        let err = parse(&with("0")).unwrap_err().to_string();
        assert!(err.contains("fleet.monthly_api_budget: must be a number of dollars above 0"), "{err}");
    }

    #[test]
    fn retention_defaults_and_overrides_and_bad_values_name_their_line() {
        let fleet = parse(HEAD).unwrap();
        assert_eq!(fleet.retention, Retention::default());
        let fleet = parse(&format!("{HEAD}[retention]\nraw_days = 14\ncost_days = 800\n")).unwrap();
        assert_eq!((fleet.retention.raw_days, fleet.retention.events_days, fleet.retention.cost_days), (14, 180, 800));
        let err = parse(&format!("{HEAD}[retention]\nraw_days = 0\ncost_days = 30\n")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("fleet.toml:5: retention.raw_days: must be 1 to 3650 days"), "{text}");
        assert!(text.contains("fleet.toml:6: retention.cost_days: must be 62 to 3650 days"), "{text}");
        let err = parse(&format!("{HEAD}[retention]\nraw_dayz = 3\n")).unwrap_err();
        assert!(err.to_string().contains("unknown field `raw_dayz`"), "{err}");
    }

    const MONITORING: &str = "[monitoring]\naccount = \"999988887777\"\nrole_name = \"FleetdeckMonitoring\"\n\
                              regions = [\"us-east-1\", \"eu-west-1\"]\n";

    #[test]
    fn a_linked_tenant_needs_no_role_and_is_read_through_the_monitoring_account() {
        let tenants = "[[tenant]]\nid = \"linked\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"111111111111\"\n\
                       via = \"monitoring\"\nhome_region = \"us-east-1\"\nextra_regions = [\"eu-west-1\"]\n\
                       [[tenant]]\nid = \"both\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"222222222222\"\n\
                       via = \"monitoring\"\nrole_name = \"Own\"\nexternal_id = \"x-both\"\nhome_region = \"us-east-1\"\n\
                       [[tenant]]\nid = \"roled\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"333333333333\"\n\
                       external_id = \"x-roled\"\nhome_region = \"us-east-1\"\n";
        let f = parse(&format!("{HEAD}{MONITORING}{tenants}")).unwrap();
        let m = f.monitoring.as_ref().unwrap();
        assert_eq!(
            (m.account.as_str(), m.role_arn.as_str(), m.line),
            ("999988887777", "arn:aws:iam::999988887777:role/FleetdeckMonitoring", 4)
        );
        let linked = f.tenant("linked").unwrap();
        assert!(linked.monitored && !linked.has_role(), "the fleet's role_name is not a linked tenant's role");
        assert!(f.monitoring_for(linked, "eu-west-1").is_some());
        let both = f.tenant("both").unwrap();
        assert_eq!(both.role_arn, "arn:aws:iam::222222222222:role/Own");
        assert!(f.monitoring_for(both, "us-east-1").is_some());
        let roled = f.tenant("roled").unwrap();
        assert!(!roled.monitored && f.monitoring_for(roled, "us-east-1").is_none());
        assert_eq!(roled.role_arn, "arn:aws:iam::333333333333:role/FleetdeckReadOnly");
    }

    #[test]
    fn a_linked_tenant_without_a_sink_in_its_region_or_without_monitoring_is_refused_with_its_line() {
        let tenant = "[[tenant]]\nid = \"linked\"\ntier = \"t\"\nmodel = \"silo\"\naccount = \"111111111111\"\n\
                      via = \"monitoring\"\nhome_region = \"ap-southeast-2\"\n";
        let err = parse(&format!("{HEAD}{MONITORING}{tenant}")).unwrap_err();
        let p = &err.problems[0];
        assert_eq!((p.line, p.field.as_str()), (13, "tenant[0].via"));
        assert!(
            p.message.contains("runs in ap-southeast-2, where the monitoring account has no sink"),
            "{}",
            p.message
        );
        let err = parse(&format!("{HEAD}{tenant}")).unwrap_err();
        assert!(err.problems[0].message.contains("no [monitoring] section"), "{}", err.problems[0].message);
        let err = parse(&format!("{HEAD}{}", tenant.replace("\"monitoring\"", "\"oam\""))).unwrap_err();
        assert!(
            err.problems
                .iter()
                .any(|p| p.field == "tenant[0].via" && p.message.contains("must be \"role\" or \"monitoring\"")),
            "{err}"
        );
        let err = parse(&format!("{HEAD}[monitoring]\naccount = \"1\"\nregions = []\n")).unwrap_err();
        let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["monitoring.role_arn", "monitoring.account", "monitoring.regions"], "by line");
    }
}
