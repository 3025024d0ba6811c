//! The program's integration tests, one binary: each module is one user's
//! story against real servers it starts on loopback (the CLI binary, the
//! simulated fleet, moto). One binary links the AWS SDK stack once instead
//! of once per file. The window test is a binary of its own: it needs the
//! desktop build.

mod alarms;
mod anomalies;
mod broken;
mod budget;
mod cache_cmd;
mod changes;
mod chargeback;
mod check;
mod console;
mod credentials;
mod demo;
mod detect;
mod environments;
mod faults;
mod freshness;
mod fuzz;
mod ledger;
mod logging;
mod logs_split;
mod monitoring;
mod moto;
mod moto_fleet;
mod partial;
mod report;
mod retention;
mod security;
mod tags;
