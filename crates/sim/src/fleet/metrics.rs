//! The metrics and alarms each isolation model publishes, and the benchmark
//! fleets' synthetic gauges.

use super::*;

/// One catalog metric as published in CloudWatch (queries/metrics.toml).
#[derive(Debug, PartialEq)]
pub(crate) struct MetricDef {
    pub namespace: &'static str,
    pub name: &'static str,
    pub kind: MetricKind,
    pub unit: &'static str,
    /// Alarm threshold (the catalog's critical_above) and statistic, for the
    /// two alarms each tenant-region has.
    pub alarm: Option<AlarmDef>,
}

#[derive(Debug, PartialEq)]
pub(crate) struct AlarmDef {
    pub suffix: &'static str,
    pub label: &'static str,
    pub stat: &'static str,
    pub threshold: f64,
}

pub(super) const ALB: [MetricDef; 3] = [
    MetricDef {
        namespace: "AWS/ApplicationELB",
        name: "RequestCount",
        kind: MetricKind::Requests,
        unit: "Count",
        alarm: None,
    },
    MetricDef {
        namespace: "AWS/ApplicationELB",
        name: "HTTPCode_Target_5XX_Count",
        kind: MetricKind::Errors,
        unit: "Count",
        alarm: Some(AlarmDef { suffix: "5xx-errors-critical", label: "5xx errors", stat: "Sum", threshold: 50.0 }),
    },
    MetricDef {
        namespace: "AWS/ApplicationELB",
        name: "TargetResponseTime",
        kind: MetricKind::Latency,
        unit: "Seconds",
        alarm: Some(AlarmDef { suffix: "p99-latency-critical", label: "p99 latency", stat: "p99", threshold: 2.5 }),
    },
];

/// An EKS tenant's metrics at its namespace's dimensions (`ClusterName`,
/// `Namespace`): only metrics Container Insights publishes with that
/// dimension set ("Amazon EKS and Kubernetes Container Insights metrics",
/// CloudWatch User Guide): `pod_cpu_utilization` and
/// `namespace_number_of_running_pods` are; `pod_number_of_container_restarts`
/// is published only per pod (`PodName`, `Namespace`, `ClusterName`), so a
/// catalog asking for it per namespace gets no data, as on a real cluster.
pub(super) const EKS: [MetricDef; 2] = [
    MetricDef {
        namespace: "ContainerInsights",
        name: "pod_cpu_utilization",
        kind: MetricKind::PodCpu,
        unit: "Percent",
        alarm: Some(AlarmDef { suffix: "pod-cpu-critical", label: "Pod CPU", stat: "Average", threshold: 95.0 }),
    },
    MetricDef {
        namespace: "ContainerInsights",
        name: "namespace_number_of_running_pods",
        kind: MetricKind::RunningPods,
        unit: "Count",
        alarm: None,
    },
];

/// A shared tenant's own database (RDS publishes `CPUUtilization` per
/// `DBInstanceIdentifier`: "Amazon CloudWatch metrics for Amazon RDS",
/// RDS User Guide).
pub(super) const RDS: [MetricDef; 1] =
    [MetricDef { namespace: "AWS/RDS", name: "CPUUtilization", kind: MetricKind::DbCpu, unit: "Percent", alarm: None }];

pub(super) const POOLED: [MetricDef; 3] = [
    MetricDef { namespace: "SaaS/App", name: "Requests", kind: MetricKind::Requests, unit: "Count", alarm: None },
    MetricDef {
        namespace: "SaaS/App",
        name: "Errors",
        kind: MetricKind::Errors,
        unit: "Count",
        alarm: Some(AlarmDef { suffix: "errors-critical", label: "Errors", stat: "Sum", threshold: 50.0 }),
    },
    MetricDef {
        namespace: "SaaS/App",
        name: "Latency",
        kind: MetricKind::Latency,
        unit: "Seconds",
        alarm: Some(AlarmDef { suffix: "p99-latency-critical", label: "p99 latency", stat: "p99", threshold: 2.5 }),
    },
];

/// The catalog metrics a tenant of `model` publishes.
pub(crate) fn metric_defs(model: Model) -> &'static [MetricDef] {
    match model {
        Model::Silo | Model::Remote | Model::Shared => &ALB,
        Model::Eks => &EKS,
        Model::Pooled => &POOLED,
    }
}

/// Namespace of a benchmark fleet's filler metrics.
pub const SYNTHETIC_NAMESPACE: &str = "SaaS/Bench";
/// Filler metrics a tenant-region can have beyond the catalog's.
pub const MAX_SYNTHETIC_METRICS: usize = 32;

pub(super) const SYNTHETIC_NAMES: [&str; MAX_SYNTHETIC_METRICS] = [
    "Synthetic01",
    "Synthetic02",
    "Synthetic03",
    "Synthetic04",
    "Synthetic05",
    "Synthetic06",
    "Synthetic07",
    "Synthetic08",
    "Synthetic09",
    "Synthetic10",
    "Synthetic11",
    "Synthetic12",
    "Synthetic13",
    "Synthetic14",
    "Synthetic15",
    "Synthetic16",
    "Synthetic17",
    "Synthetic18",
    "Synthetic19",
    "Synthetic20",
    "Synthetic21",
    "Synthetic22",
    "Synthetic23",
    "Synthetic24",
    "Synthetic25",
    "Synthetic26",
    "Synthetic27",
    "Synthetic28",
    "Synthetic29",
    "Synthetic30",
    "Synthetic31",
    "Synthetic32",
];

pub(super) const fn synthetic_defs() -> [MetricDef; MAX_SYNTHETIC_METRICS] {
    const BLANK: MetricDef = MetricDef {
        namespace: SYNTHETIC_NAMESPACE,
        name: "",
        kind: MetricKind::Synthetic(0),
        unit: "Count",
        alarm: None,
    };
    let mut out = [BLANK; MAX_SYNTHETIC_METRICS];
    let mut i = 0;
    while i < MAX_SYNTHETIC_METRICS {
        out[i].name = SYNTHETIC_NAMES[i];
        out[i].kind = MetricKind::Synthetic(i as u8 + 1);
        i += 1;
    }
    out
}

/// A static home for the filler metrics, so they are `&'static` like the
/// catalog's.
pub(super) static SYNTHETIC: [MetricDef; MAX_SYNTHETIC_METRICS] = synthetic_defs();

/// How many filler metrics a tenant of `model` gets to reach `metrics` per
/// tenant-region.
pub(super) fn synthetic_count(model: Model, metrics: usize) -> usize {
    metrics.saturating_sub(metric_defs(model).len()).min(MAX_SYNTHETIC_METRICS)
}
