//! The API ledger: every call fleetdeck sends to AWS, by account, region and
//! action, with what it costs at list prices. Plain values: the collectors
//! count into it, the cache stores it, the views show it.

use std::collections::BTreeMap;
use std::sync::Mutex;

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
}

impl CallCount {
    /// At AWS list prices: $0.01 per 1,000 metrics requested by
    /// GetMetricData, $0.01 per Cost Explorer request, $0.01 per 1,000 other
    /// requests (STS is free, but counted like the others to stay on the
    /// safe side).
    pub fn dollars(&self) -> f64 {
        match self.action {
            "cloudwatch:GetMetricData" => self.metrics as f64 * 0.01 / 1000.0,
            "ce:GetCostAndUsage" => self.calls as f64 * 0.01,
            _ => self.calls as f64 * 0.01 / 1000.0,
        }
    }
}

/// Counts every call made, by (account, region, action), with what it costs.
#[derive(Debug, Default)]
pub struct Ledger {
    /// (account, region, action) -> (calls, metrics requested).
    calls: Mutex<BTreeMap<CallKey, (u64, u64)>>,
}

type CallKey = (String, String, &'static str);

impl Ledger {
    pub fn count(&self, account: &str, region: &str, action: &'static str) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.entry((account.to_string(), region.to_string(), action)).or_default().0 += 1;
    }

    /// GetMetricData is billed per metric requested, not per call.
    pub fn count_metrics(&self, account: &str, region: &str, n: u64) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.entry((account.to_string(), region.to_string(), "cloudwatch:GetMetricData")).or_default().1 += n;
    }

    /// Everything counted so far, and start counting afresh.
    pub fn drain(&self) -> Vec<CallCount> {
        let calls = std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()));
        calls
            .into_iter()
            .map(|((account, region, action), (calls, metrics))| CallCount { account, region, action, calls, metrics })
            .collect()
    }
}
