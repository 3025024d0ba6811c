//! The API ledger: every call fleetdeck sends to AWS, by account, region and
//! action, with what AWS bills for it at list prices. Plain values: the
//! collectors count into it, the cache stores it, the views show it.
//!
//! Only calls that left this machine are counted (see
//! [`crate::aws::AwsAccess::send`]): one refused for want of credentials,
//! or that never got a connection, reached no AWS meter.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// GetMetricData: "$0.01 per 1,000 metrics requested" (Amazon CloudWatch
/// Pricing, Metrics, API).
pub const PER_METRIC_REQUESTED: f64 = 0.01 / 1000.0;
/// Logs Insights: "$0.005 per GB of data scanned" (Amazon CloudWatch
/// Pricing, Logs, Analyze (Logs Insights queries)).
pub const PER_GB_SCANNED: f64 = 0.005;
/// A GB as AWS bills it: 2^30 bytes.
pub const GB: f64 = (1u64 << 30) as f64;
/// Cost Explorer API: "$0.01 per paginated API request" (AWS Cost
/// Management Pricing).
pub const PER_COST_EXPLORER_REQUEST: f64 = 0.01;
/// Any other CloudWatch request ("$0.01 per 1,000 requests", Amazon
/// CloudWatch Pricing, API), and the bound used for the few other read
/// calls AWS lists no price for.
pub const PER_OTHER_REQUEST: f64 = 0.01 / 1000.0;

/// Calls of one action in one account-region, and their list price.
#[derive(Debug, Clone, PartialEq)]
pub struct CallCount {
    pub account: String,
    pub region: String,
    /// IAM-style, e.g. `cloudwatch:GetMetricData`.
    pub action: &'static str,
    pub calls: u64,
    /// For GetMetricData: metrics requested (what AWS bills).
    pub metrics: u64,
    /// For `logs:StartQuery`: the bytes its queries scanned, as
    /// GetQueryResults' `statistics.bytesScanned` gave them (what AWS bills).
    pub bytes_scanned: u64,
}

impl CallCount {
    /// What AWS bills for these calls at list prices: GetMetricData per
    /// metric requested, Logs Insights per GB scanned (the query, not its
    /// StartQuery, GetQueryResults and StopQuery requests), Cost Explorer
    /// per request, STS nothing (IAM and STS are "offered at no additional
    /// charge": AWS IAM pricing), the Tagging API nothing, and $0.01 per 1,000 other requests.
    pub fn dollars(&self) -> f64 {
        match self.action {
            "cloudwatch:GetMetricData" => self.metrics as f64 * PER_METRIC_REQUESTED,
            "logs:StartQuery" | "logs:GetQueryResults" | "logs:StopQuery" => {
                self.bytes_scanned as f64 / GB * PER_GB_SCANNED
            }
            "ce:GetCostAndUsage" => self.calls as f64 * PER_COST_EXPLORER_REQUEST,
            a if a.starts_with("sts:") => 0.0,
            // "There is no additional charge for the Resource Groups
            // Tagging API" (AWS Resource Groups pricing).
            "tag:GetResources" => 0.0,
            // "Cross-account observability in CloudWatch comes with no extra
            // cost for logs and metrics" (Amazon CloudWatch pricing): the
            // sink and its links are not billed.
            a if a.starts_with("oam:") => 0.0,
            _ => self.calls as f64 * PER_OTHER_REQUEST,
        }
    }
}

/// What was counted of one (account, region, action).
#[derive(Debug, Default, Clone, Copy)]
struct Counted {
    calls: u64,
    metrics: u64,
    bytes_scanned: u64,
}

/// Counts every call sent, by (account, region, action), with what it costs.
#[derive(Debug, Default)]
pub struct Ledger {
    calls: Mutex<BTreeMap<CallKey, Counted>>,
}

type CallKey = (String, String, &'static str);

impl Ledger {
    fn add(&self, account: &str, region: &str, action: &'static str, f: impl FnOnce(&mut Counted)) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        f(calls.entry((account.to_string(), region.to_string(), action)).or_default());
    }

    /// One call sent.
    pub fn count(&self, account: &str, region: &str, action: &'static str) {
        self.add(account, region, action, |c| c.calls += 1);
    }

    /// GetMetricData is billed per metric requested, not per call.
    pub fn count_metrics(&self, account: &str, region: &str, n: u64) {
        self.add(account, region, "cloudwatch:GetMetricData", |c| c.metrics += n);
    }

    /// A Logs Insights query is billed by the bytes it scanned, known once
    /// GetQueryResults answers; counted on its `logs:StartQuery`.
    pub fn count_scanned(&self, account: &str, region: &str, bytes: u64) {
        self.add(account, region, "logs:StartQuery", |c| c.bytes_scanned += bytes);
    }

    /// Everything counted so far, and start counting afresh.
    pub fn drain(&self) -> Vec<CallCount> {
        let calls = std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()));
        calls
            .into_iter()
            .map(|((account, region, action), c)| CallCount {
                account,
                region,
                action,
                calls: c.calls,
                metrics: c.metrics,
                bytes_scanned: c.bytes_scanned,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_prices_calls_like_aws() {
        let l = Ledger::default();
        l.count("1", "r", "cloudwatch:GetMetricData");
        l.count_metrics("1", "r", 500);
        l.count("1", "r", "ce:GetCostAndUsage");
        l.count("1", "r", "cloudwatch:DescribeAlarms");
        l.count("1", "r", "logs:StartQuery");
        l.count("1", "r", "logs:GetQueryResults");
        l.count_scanned("1", "r", 3 << 30);
        l.count("1", "r", "sts:AssumeRole");
        l.count("1", "r", "sts:GetCallerIdentity");
        let calls = l.drain();
        assert_eq!(calls.iter().map(|c| c.calls).sum::<u64>(), 7);
        let dollars: f64 = calls.iter().map(CallCount::dollars).sum();
        // 500 metrics, one Cost Explorer request, one other request, 3 GB scanned; STS free.
        assert!((dollars - (0.005 + 0.01 + 0.00001 + 0.015)).abs() < 1e-9, "{dollars}");
        let sts: f64 = calls.iter().filter(|c| c.action.starts_with("sts:")).map(CallCount::dollars).sum();
        assert_eq!(sts, 0.0);
        assert!(l.drain().is_empty(), "drain starts afresh");
    }
}
