//! Tenants found by their tags. In a shared account a tenant's load
//! balancers, target groups, databases and queues carry the provider's cost
//! allocation tag (`tenant-id = acme` by default); the Resource Groups
//! Tagging API lists them (`tag:GetResources`, read-only), and each ARN
//! names the CloudWatch dimension value its metrics are published under.
//! So a tenant with two load balancers and a database needs no hand-typed
//! values, and a typo cannot hide it. Values typed in the fleet file win.
//!
//! The map costs calls, so it is read again only every
//! [`REFRESH_SECS`] per account-region, and kept in the cache between.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::HOUR;

/// How old an account-region's map may be before a sync reads it again.
pub const REFRESH_SECS: i64 = 6 * HOUR;

/// The resource types whose ARNs name a catalog dimension, as
/// `ResourceTypeFilters` spells them (`service[:resourceType]`, the strings
/// embedded in the ARN).
pub const RESOURCE_TYPES: &[&str] = &[
    "elasticloadbalancing:loadbalancer",
    "elasticloadbalancing:targetgroup",
    "rds:db",
    "rds:cluster",
    "sqs",
    "dynamodb:table",
    "lambda:function",
    "ecs:cluster",
    "ec2:instance",
];

/// One of a tenant's resources, found by its tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedResource {
    pub tenant: String,
    pub region: String,
    pub arn: String,
    /// The CloudWatch dimension its metrics carry, and its value there.
    pub dimension: String,
    pub value: String,
}

impl TaggedResource {
    /// "load balancer", "database"...: what it is, for people.
    pub fn kind(&self) -> &'static str {
        kind_of(&self.dimension)
    }
}

/// A tagged resource as the Tenant view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResourceInfo {
    pub region: String,
    pub arn: String,
    /// What it is, for people: "load balancer", "database"...
    pub kind: String,
    /// Its dimension value (untrusted text: tenants name their resources).
    pub value: String,
}

impl From<TaggedResource> for ResourceInfo {
    fn from(r: TaggedResource) -> ResourceInfo {
        ResourceInfo { kind: r.kind().into(), region: r.region, arn: r.arn, value: r.value }
    }
}

/// What a resource of `dimension` is, for people.
pub fn kind_of(dimension: &str) -> &'static str {
    match dimension {
        "LoadBalancer" | "LoadBalancerName" => "load balancer",
        "TargetGroup" => "target group",
        "DBInstanceIdentifier" => "database",
        "DBClusterIdentifier" => "database cluster",
        "QueueName" => "queue",
        "TableName" => "table",
        "FunctionName" => "function",
        "ClusterName" => "cluster",
        "InstanceId" => "instance",
        _ => "resource",
    }
}

/// Dimensions a tag can supply to a tenant of `model` (the fleet file may
/// leave them out). The cluster an `eks` tenant's namespace runs on is the
/// pool every tenant shares, carrying no one tenant's tag.
pub fn taggable(model: crate::fleet::Model, dimension: &str) -> bool {
    kind_of(dimension) != "resource" && !(model == crate::fleet::Model::Eks && dimension == "ClusterName")
}

/// The CloudWatch dimension and value an ARN's metrics are published under
/// (each service's "CloudWatch metrics" page names them):
///
/// - `...:loadbalancer/app/web/50dc6c495c0c9188` → `LoadBalancer` =
///   `app/web/50dc6c495c0c9188` (`net/...` likewise); a Classic Load
///   Balancer's `loadbalancer/web` → `LoadBalancerName` = `web`;
/// - `...:targetgroup/web/73e2d6bc24d8a067` → `TargetGroup` = the same
///   from `targetgroup/`;
/// - `arn:aws:rds:...:db:orders` → `DBInstanceIdentifier`; `:cluster:x` →
///   `DBClusterIdentifier`;
/// - `arn:aws:sqs:...:jobs` → `QueueName`; `dynamodb:...:table/t` →
///   `TableName`; `lambda:...:function:f` → `FunctionName`;
///   `ecs:...:cluster/c` (a tenant's own ECS cluster) → `ClusterName`;
///   `ec2:...:instance/i-1` → `InstanceId`.
///
/// An EKS cluster is not among them: it is the pool the `eks` tenants'
/// namespaces share ([`taggable`]).
pub fn dimension_of(arn: &str) -> Option<(&'static str, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, _, resource] = parts[..] else { return None };
    let after = |prefix: &str| resource.strip_prefix(prefix).filter(|v| !v.is_empty()).map(str::to_string);
    match service {
        "elasticloadbalancing" => {
            if let Some(v) = after("loadbalancer/") {
                return Some(if v.starts_with("app/") || v.starts_with("net/") || v.starts_with("gwy/") {
                    ("LoadBalancer", v)
                } else {
                    ("LoadBalancerName", v)
                });
            }
            resource.starts_with("targetgroup/").then(|| ("TargetGroup", resource.to_string()))
        }
        "rds" => after("db:")
            .map(|v| ("DBInstanceIdentifier", v))
            .or_else(|| after("cluster:").map(|v| ("DBClusterIdentifier", v))),
        "sqs" => (!resource.is_empty() && !resource.contains([':', '/'])).then(|| ("QueueName", resource.to_string())),
        "dynamodb" => after("table/").filter(|v| !v.contains('/')).map(|v| ("TableName", v)),
        "lambda" => after("function:").map(|v| ("FunctionName", v.split(':').next().unwrap_or(&v).to_string())),
        "ecs" => after("cluster/").map(|v| ("ClusterName", v)),
        "ec2" => after("instance/").map(|v| ("InstanceId", v)),
        _ => None,
    }
}

/// "2 load balancers, 1 target group, 1 database".
pub fn describe<'a>(found: impl IntoIterator<Item = &'a TaggedResource>) -> String {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for r in found {
        *counts.entry(r.kind()).or_default() += 1;
    }
    if counts.is_empty() {
        return "nothing".into();
    }
    counts
        .into_iter()
        .map(|(kind, n)| if n == 1 { format!("1 {kind}") } else { format!("{n} {kind}s") })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Dimension values per dimension name, from what was found.
pub fn values(found: &[TaggedResource]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in found {
        let v = out.entry(r.dimension.clone()).or_default();
        if !v.contains(&r.value) {
            v.push(r.value.clone());
        }
    }
    out
}

/// A tenant's dimension values in a region: the ones found by its tag,
/// with the fleet file's (`typed`) in their place wherever it gives them.
pub fn merged(typed: &BTreeMap<String, Vec<String>>, found: &[TaggedResource]) -> BTreeMap<String, Vec<String>> {
    let mut out = values(found);
    for (k, v) in typed {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// The queries one series of a metric with `dimensions` takes (one per
/// combination of values), or `None` when a dimension has no value.
pub fn queries_for(dimensions: &[String], values: &BTreeMap<String, Vec<String>>) -> Option<usize> {
    dimensions.iter().map(|d| values.get(d).map(Vec::len).filter(|n| *n > 0)).product()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_the_dimension_their_metrics_carry() {
        let a = "arn:aws:elasticloadbalancing:us-east-1:111111111111:";
        assert_eq!(
            dimension_of(&format!("{a}loadbalancer/app/web/50dc6c")),
            Some(("LoadBalancer", "app/web/50dc6c".into()))
        );
        assert_eq!(
            dimension_of(&format!("{a}loadbalancer/net/nlb/1a2b")),
            Some(("LoadBalancer", "net/nlb/1a2b".into()))
        );
        assert_eq!(
            dimension_of(&format!("{a}loadbalancer/classic-web")),
            Some(("LoadBalancerName", "classic-web".into()))
        );
        assert_eq!(
            dimension_of(&format!("{a}targetgroup/web/73e2d6")),
            Some(("TargetGroup", "targetgroup/web/73e2d6".into()))
        );
        assert_eq!(
            dimension_of("arn:aws:rds:eu-west-1:111111111111:db:orders"),
            Some(("DBInstanceIdentifier", "orders".into()))
        );
        assert_eq!(
            dimension_of("arn:aws:rds:eu-west-1:111111111111:cluster:pg"),
            Some(("DBClusterIdentifier", "pg".into()))
        );
        assert_eq!(dimension_of("arn:aws:sqs:eu-west-1:111111111111:jobs"), Some(("QueueName", "jobs".into())));
        assert_eq!(dimension_of("arn:aws:dynamodb:eu-west-1:111111111111:table/t"), Some(("TableName", "t".into())));
        assert_eq!(
            dimension_of("arn:aws:lambda:eu-west-1:111111111111:function:f:3"),
            Some(("FunctionName", "f".into()))
        );
        assert_eq!(
            dimension_of("arn:aws:ecs:eu-west-1:111111111111:cluster/acme"),
            Some(("ClusterName", "acme".into()))
        );
        assert_eq!(dimension_of("arn:aws:eks:eu-west-1:111111111111:cluster/prod"), None, "an EKS cluster is the pool");
        assert!(
            taggable(crate::fleet::Model::Shared, "ClusterName") && !taggable(crate::fleet::Model::Eks, "ClusterName")
        );
        assert_eq!(dimension_of("arn:aws:s3:::bucket"), None);
        assert_eq!(dimension_of("not an arn"), None);
    }

    #[test]
    fn what_was_found_reads_as_counts() {
        let r = |d: &str, v: &str| TaggedResource {
            tenant: "a".into(),
            region: "us-east-1".into(),
            arn: v.into(),
            dimension: d.into(),
            value: v.into(),
        };
        let found = [r("LoadBalancer", "x"), r("LoadBalancer", "y"), r("DBInstanceIdentifier", "d")];
        assert_eq!(describe(&found), "1 database, 2 load balancers");
        assert_eq!(values(&found)["LoadBalancer"], ["x", "y"]);
    }
}
