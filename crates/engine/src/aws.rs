//! The one place AWS clients are built (as in vector's `src/aws/`): the base
//! identity from the standard chain, AssumeRole per tenant account with its
//! ExternalId, a session name naming the viewer and an inline session policy
//! that allows only fleetdeck's read actions; credentials cached in memory
//! per (role, external id) and refreshed before expiry by the SDK's identity
//! cache; clients cached per (role, region); an endpoint override for
//! emulators. AWS errors are classified here, once, into the statuses the
//! views show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{error::CredentialsError, future};
use aws_sdk_sts::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Every AWS action fleetdeck may call. The inline session policy on each
/// AssumeRole allows exactly these, so even an over-broad tenant role cannot
/// be used to write.
pub const READ_ACTIONS: &[&str] = &[
    "cloudwatch:GetMetricData",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmHistory",
    "logs:DescribeLogGroups",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StopQuery",
    "ce:GetCostAndUsage",
    "organizations:ListAccounts",
    "organizations:ListTagsForResource",
    "tag:GetResources",
    "oam:ListSinks",
    "oam:ListAttachedLinks",
];

/// Attempts per call, the first included. A brownout (a fifth of calls
/// throttled, some 5xx and dropped connections) leaves a call failing all
/// ten at about two in a million; the SDK backs off with jitter in between.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The inline session policy sent with every AssumeRole.
pub fn session_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": "FleetdeckReadOnly", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": "*" }]
    })
    .to_string()
}

/// How to reach AWS (or an emulator).
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub profile: Option<String>,
    /// Where `profile` came from, for people: `--profile`, `the fleet file`.
    pub profile_from: Option<&'static str>,
    pub region: String,
    pub endpoint_url: Option<String>,
    /// Fixed base credentials (the simulated fleet's); else the default chain.
    pub static_credentials: Option<(String, String)>,
    /// The session token going with `static_credentials`, when they are a
    /// session's (tests playing an SSO or role user).
    pub static_session_token: Option<String>,
    /// Attempts per call including the first (SDK standard retry with backoff).
    pub max_attempts: u32,
}

impl AwsSettings {
    /// A simulated fleet (or any emulator): its endpoint and static base keys.
    pub fn simulated(endpoint: String, keys: (String, String), fleet: &crate::fleet::Fleet) -> AwsSettings {
        AwsSettings {
            profile: None,
            profile_from: None,
            region: fleet.region.clone(),
            endpoint_url: Some(endpoint),
            static_credentials: Some(keys),
            static_session_token: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// What went wrong reading one source, in the terms the views show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: SourceStatus,
    pub message: String,
    pub remediation: String,
}

pub use crate::ledger::{CallCount, Ledger};
use crate::model::SourceStatus;

/// Clients and credentials for a whole fleet.
pub struct AwsAccess {
    base: SdkConfig,
    base_credentials: SharedCredentialsProvider,
    identity: Identity,
    /// Whether the base identity has credentials, found out once: the SDK's
    /// providers report a failure to the first caller only.
    base_ready: tokio::sync::OnceCell<Result<(), Failure>>,
    /// The session name and source identity, found out once
    /// ([`AwsAccess::session_name`]).
    viewer: tokio::sync::OnceCell<Viewer>,
    roles: Mutex<HashMap<(String, Option<String>), SharedCredentialsProvider>>,
    /// The base identity's own scoped session, for payer reads.
    federated: Mutex<Option<SharedCredentialsProvider>>,
    /// Per role ARN: whether its trust policy refused sts:SetSourceIdentity.
    refused_source_identity: Mutex<HashMap<String, Arc<std::sync::atomic::AtomicBool>>>,
    cloudwatch: Mutex<HashMap<(String, String), aws_sdk_cloudwatch::Client>>,
    logs: Mutex<HashMap<(String, String), aws_sdk_cloudwatchlogs::Client>>,
    pub ledger: Arc<Ledger>,
    pub pacer: crate::pace::Pacer,
    /// Trips when AWS stops accepting connections; reset by each sync.
    pub reach: Arc<crate::reach::Reachability>,
}

/// Refresh this long before a session expires, so no call carries a token
/// that dies in flight.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Assumed-role credentials shared by every client of one role: assumed
/// once, reused until shortly before they expire, then assumed again. Each
/// AssumeRole sent is counted. Memory only, never written anywhere.
///
/// fleetdeck calls AssumeRole itself rather than through aws-config's
/// provider, which cannot set `SourceIdentity`.
#[derive(Debug)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    /// How the session is obtained.
    how: Scope,
    session_name: String,
    /// Who looked, carried into every CloudTrail event of the session and
    /// of any role chained from it (IAM User Guide, "Monitor and control
    /// actions taken with assumed roles"). `None` when the caller identity
    /// could not be read: the local `$USER` is not evidence of anyone.
    source_identity: Option<String>,
    /// Set when the role's trust policy refused `sts:SetSourceIdentity`:
    /// later sessions go without it, and `check` says so.
    refused_source_identity: Arc<std::sync::atomic::AtomicBool>,
    account: String,
    region: String,
    ledger: Arc<Ledger>,
    /// The credentials and when they were asked for.
    cached: tokio::sync::Mutex<Option<(Credentials, SystemTime)>>,
}

impl AssumedRole {
    /// One AssumeRole (or GetFederationToken) sent, counted;
    /// `with_source` sets SourceIdentity.
    async fn assume(&self, with_source: bool) -> Result<Credentials, CredentialsError> {
        let (out, action) = match &self.how {
            Scope::Role { role_arn, external_id } => {
                let source = if with_source { self.source_identity.clone() } else { None };
                let out = self
                    .sts
                    .assume_role()
                    .role_arn(role_arn)
                    .role_session_name(&self.session_name)
                    .policy(session_policy())
                    .duration_seconds(3600)
                    .set_external_id(external_id.clone())
                    .set_source_identity(source)
                    .send()
                    .await;
                (out.map(|o| o.credentials).map_err(|e| sts_error_text(&e)), "sts:AssumeRole")
            }
            Scope::Federation => {
                // Name: at most 32 characters (GetFederationToken, STS API Reference).
                let name: String = self.session_name.chars().take(32).collect();
                let out = self
                    .sts
                    .get_federation_token()
                    .name(name)
                    .policy(session_policy())
                    .duration_seconds(3600)
                    .send()
                    .await;
                (out.map(|o| o.credentials).map_err(|e| sts_error_text(&e)), "sts:GetFederationToken")
            }
        };
        // Counted only when sent: without base credentials the request
        // never left this machine, and AWS bills nothing.
        let sent = match &out {
            Ok(_) => true,
            Err(e) => !is_credentials_error(e),
        };
        if sent {
            self.ledger.count(&self.account, &self.region, action);
        }
        let out = out.map_err(|e| CredentialsError::provider_error(ServiceText(e)))?;
        let c = out.ok_or_else(|| CredentialsError::unhandled("STS returned no credentials"))?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "fleetdeck-assume-role",
        ))
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        use std::sync::atomic::Ordering;
        future::ProvideCredentials::new(async move {
            // One AssumeRole at a time per role: concurrent callers wait for it.
            let mut slot = self.cached.lock().await;
            if let Some((c, obtained)) = slot.as_ref() {
                // Renew ahead of expiry by 5 minutes, or by a quarter of the
                // session's life when sessions are shorter than that, so a
                // short session is renewed once in a while, not per call.
                let fresh = c.expiry().is_none_or(|e| {
                    let life = e.duration_since(*obtained).unwrap_or_default();
                    e > SystemTime::now() + REFRESH_BEFORE.min(life / 4)
                });
                if fresh {
                    return Ok(c.clone());
                }
            }
            let obtained = SystemTime::now();
            let with_source = self.source_identity.is_some() && !self.refused_source_identity.load(Ordering::Relaxed);
            let mut creds = self.assume(with_source).await;
            if let Err(e) = &creds {
                // A role made before fleetdeck set source identities: its
                // trust policy allows sts:AssumeRole but not
                // sts:SetSourceIdentity, and AWS refuses the whole request.
                // Reading still works without it; `check` asks for the fix.
                if with_source && DisplayErrorContext(e).to_string().contains("sts:SetSourceIdentity") {
                    self.refused_source_identity.store(true, Ordering::Relaxed);
                    creds = self.assume(false).await;
                }
            }
            let creds = creds?;
            *slot = Some((creds.clone(), obtained));
            Ok(creds)
        })
    }
}

/// How a scoped session is obtained.
#[derive(Debug)]
enum Scope {
    /// AssumeRole into a role, with its ExternalId.
    Role { role_arn: String, external_id: Option<String> },
    /// GetFederationToken: the base identity itself (an IAM user), narrowed
    /// by the same session policy. For payer reads without `payer_role_arn`.
    Federation,
}

/// `Code: message` of an STS service error as AWS worded it; the whole
/// error chain otherwise (no credentials, no connection).
fn sts_error_text<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
        None => DisplayErrorContext(e).to_string(),
    }
}

/// AWS's own words (`Code: message`) under a failed AssumeRole or
/// GetFederationToken, instead of the credentials provider's nesting.
pub fn sts_words(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(ServiceText(text)) = err.downcast_ref::<ServiceText>() {
            return Some(text.clone());
        }
        source = err.source();
    }
    None
}

/// An STS error as text, kept whole for classification.
#[derive(Debug)]
struct ServiceText(String);

impl std::fmt::Display for ServiceText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServiceText {}

/// Who the base identity is, as sessions name it.
#[derive(Debug, Clone)]
struct Viewer {
    session_name: String,
    source_identity: Option<String>,
}

impl AwsAccess {
    pub async fn new(settings: &AwsSettings) -> AwsAccess {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        let reach = Arc::new(crate::reach::Reachability::default());
        loader = loader.http_client(crate::reach::client(reach.clone()));
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((key, secret)) = &settings.static_credentials {
            let token = settings.static_session_token.clone();
            loader = loader.credentials_provider(Credentials::new(key, secret, token, None, "fleetdeck-static"));
        }
        let base = loader.load().await;
        let base_credentials = base
            .credentials_provider()
            .unwrap_or_else(|| SharedCredentialsProvider::new(Credentials::new("", "", None, None, "none")));
        AwsAccess {
            base,
            base_credentials,
            identity: Identity::of(settings),
            base_ready: tokio::sync::OnceCell::new(),
            viewer: tokio::sync::OnceCell::new(),
            roles: Mutex::default(),
            refused_source_identity: Mutex::default(),
            federated: Mutex::default(),
            cloudwatch: Mutex::default(),
            logs: Mutex::default(),
            ledger: Arc::new(Ledger::default()),
            pacer: crate::pace::Pacer::default(),
            reach,
        }
    }

    /// Every AWS call passes here: paced under the account-region's quota
    /// for that action, sent (`request` is the SDK's `send()`, which does
    /// nothing until awaited), and counted in the ledger if it left this
    /// machine ([`was_sent`]).
    pub async fn send<T, E, R>(
        &self,
        account: &str,
        region: &str,
        action: &'static str,
        request: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, SdkError<E, R>>
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        debug_assert!(READ_ACTIONS.contains(&action), "{action} is not on the read-only allowlist");
        self.pacer.wait(account, region, action).await;
        let out = request.await;
        if out.as_ref().err().is_none_or(was_sent) {
            self.ledger.count(account, region, action);
        }
        out
    }

    /// [`AwsAccess::send`] for a GetMetricData of `metrics` queries, which
    /// AWS bills per metric requested.
    pub async fn send_metric_data<T, E, R>(
        &self,
        account: &str,
        region: &str,
        metrics: u64,
        request: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, SdkError<E, R>>
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let out = self.send(account, region, "cloudwatch:GetMetricData", request).await;
        if out.as_ref().err().is_none_or(was_sent) {
            self.ledger.count_metrics(account, region, metrics);
        }
        out
    }

    /// Where console sign-in tokens are asked for ([`crate::signin`]).
    pub fn federation_endpoint(&self) -> String {
        let region = self.base.region().map(|r| r.to_string()).unwrap_or_default();
        crate::signin::federation_endpoint(self.base.endpoint_url(), &region)
    }

    /// Which base identity this is and where it came from, for people
    /// (said at the start of a sync and a check).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Whether the base identity has credentials to sign with (an SSO
    /// profile logged in, a profile that exists, keys somewhere in the
    /// chain): asked once, the answer kept, so every tenant gets the same
    /// failure and its fix.
    pub async fn base_ready(&self) -> Result<(), Failure> {
        self.base_ready
            .get_or_init(|| async {
                self.base_credentials.provide_credentials().await.map(|_| ()).map_err(|e| {
                    let text = DisplayErrorContext(&e).to_string();
                    let mut f = classify_text(&text, None);
                    if f.status != SourceStatus::NoCredentials {
                        // Whatever stopped the base identity, nothing was sent with it.
                        f.status = SourceStatus::NoCredentials;
                    }
                    self.identity.explain(f)
                })
            })
            .await
            .clone()
    }

    /// `fleetdeck-<who>`, the name every assumed-role session carries into
    /// the tenant's CloudTrail: who is the caller identity's own name
    /// (GetCallerIdentity: the IAM user, or the session of an assumed role,
    /// such as an SSO user's e-mail), so the tenant sees which person
    /// looked. The local `$USER` only when the identity cannot be read.
    pub async fn session_name(&self) -> String {
        self.viewer().await.session_name
    }

    /// The SourceIdentity sessions set: the caller identity's own name, as
    /// GetCallerIdentity gave it (`None` when it could not be read).
    pub async fn source_identity(&self) -> Option<String> {
        self.viewer().await.source_identity
    }

    async fn viewer(&self) -> Viewer {
        self.viewer
            .get_or_init(|| async {
                let who = match self.base_ready().await {
                    Ok(()) => self.caller_arn().await,
                    Err(_) => None,
                };
                Viewer {
                    session_name: session_name_for(who.as_deref()),
                    source_identity: who.as_deref().and_then(source_identity_for),
                }
            })
            .await
            .clone()
    }

    /// Whether `role_arn`'s trust policy refused sts:SetSourceIdentity this
    /// session (its sessions then carry the session name only).
    pub fn source_identity_refused(&self, role_arn: &str) -> bool {
        let flags = self.refused_source_identity.lock().unwrap_or_else(|e| e.into_inner());
        flags.get(role_arn).is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The base identity's ARN (GetCallerIdentity needs no permission).
    async fn caller_arn(&self) -> Option<String> {
        let conf =
            aws_sdk_sts::config::Builder::from(&self.base).credentials_provider(self.base_credentials.clone()).build();
        let out = aws_sdk_sts::Client::from_conf(conf).get_caller_identity().send().await;
        let region = self.base.region().map(|r| r.to_string()).unwrap_or_default();
        match out {
            Ok(o) => {
                self.ledger.count(o.account().unwrap_or_default(), &region, "sts:GetCallerIdentity");
                o.arn().map(str::to_string)
            }
            Err(e) => {
                tracing::debug!("GetCallerIdentity: {}", DisplayErrorContext(&e));
                None
            }
        }
    }

    pub fn base_credentials(&self) -> SharedCredentialsProvider {
        self.base_credentials.clone()
    }

    /// Credentials for a role, assumed once and cached in memory; the SDK's
    /// identity cache refreshes them before they expire.
    pub async fn role(&self, role_arn: &str, external_id: Option<&str>) -> SharedCredentialsProvider {
        let key = (role_arn.to_string(), external_id.map(str::to_string));
        if let Some(p) = self.roles.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return p.clone();
        }
        let viewer = self.viewer().await;
        let refused = self
            .refused_source_identity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(role_arn.to_string())
            .or_default()
            .clone();
        let sts_conf =
            aws_sdk_sts::config::Builder::from(&self.base).credentials_provider(self.base_credentials.clone()).build();
        let provider = SharedCredentialsProvider::new(AssumedRole {
            sts: aws_sdk_sts::Client::from_conf(sts_conf),
            how: Scope::Role { role_arn: role_arn.to_string(), external_id: external_id.map(str::to_string) },
            session_name: viewer.session_name,
            source_identity: viewer.source_identity,
            refused_source_identity: refused,
            account: role_arn.split(':').nth(4).unwrap_or_default().to_string(),
            region: self.base.region().map(|r| r.to_string()).unwrap_or_default(),
            ledger: self.ledger.clone(),
            cached: tokio::sync::Mutex::new(None),
        });
        self.roles.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(provider).clone()
    }

    /// Credentials for reading the payer account (Cost Explorer,
    /// Organizations), narrowed by the read-only session policy as tenant
    /// sessions are: through `payer_role_arn` when the fleet file names one,
    /// else the base identity's own federation token (GetFederationToken
    /// with the session policy), which AWS gives IAM users only. Resolved
    /// now, so a refusal comes back with its fix.
    pub async fn payer(&self, payer_role_arn: Option<&str>) -> Result<SharedCredentialsProvider, Failure> {
        if let Some(arn) = payer_role_arn {
            let creds = self.role(arn, None).await;
            self.check(&creds, arn, None).await?;
            return Ok(creds);
        }
        self.base_ready().await?;
        let session_name = self.session_name().await;
        let creds = {
            let mut slot = self.federated.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let sts_conf = aws_sdk_sts::config::Builder::from(&self.base)
                        .credentials_provider(self.base_credentials.clone())
                        .build();
                    let c = SharedCredentialsProvider::new(AssumedRole {
                        sts: aws_sdk_sts::Client::from_conf(sts_conf),
                        how: Scope::Federation,
                        session_name,
                        source_identity: None,
                        refused_source_identity: Arc::default(),
                        account: String::new(),
                        region: self.base.region().map(|r| r.to_string()).unwrap_or_default(),
                        ledger: self.ledger.clone(),
                        cached: tokio::sync::Mutex::new(None),
                    });
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        creds.provide_credentials().await.map(|_| creds.clone()).map_err(|e| {
            let text = DisplayErrorContext(&e).to_string();
            let words = sts_words(&e).unwrap_or_else(|| text.clone());
            federation_failure(&words).unwrap_or_else(|| self.identity.explain(classify_text(&text, None)))
        })
    }

    /// The credentials of a role already assumed this session, if any.
    pub fn known_role(&self, role_arn: &str, external_id: Option<&str>) -> Option<SharedCredentialsProvider> {
        let roles = self.roles.lock().unwrap_or_else(|e| e.into_inner());
        roles.get(&(role_arn.to_string(), external_id.map(str::to_string))).cloned()
    }

    /// Resolve credentials now, so a missing role is reported as such once
    /// per account rather than as N failed calls. The credentials are kept
    /// for the clients that follow.
    pub async fn check(
        &self,
        creds: &SharedCredentialsProvider,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Result<(), Failure> {
        self.base_ready().await?;
        creds.provide_credentials().await.map(|_| ()).map_err(|e| {
            let text = DisplayErrorContext(&e).to_string();
            self.identity.explain(classify_text(&text, Some((role_arn, external_id))))
        })
    }

    pub fn cloudwatch(
        &self,
        creds: &SharedCredentialsProvider,
        role_key: &str,
        region: &str,
    ) -> aws_sdk_cloudwatch::Client {
        let mut clients = self.cloudwatch.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry((role_key.to_string(), region.to_string()))
            .or_insert_with(|| {
                let conf = aws_sdk_cloudwatch::config::Builder::from(&self.base)
                    .credentials_provider(creds.clone())
                    .region(Region::new(region.to_string()))
                    .retry_partition(partition("cloudwatch", role_key, region))
                    .build();
                aws_sdk_cloudwatch::Client::from_conf(conf)
            })
            .clone()
    }

    pub fn logs(
        &self,
        creds: &SharedCredentialsProvider,
        role_key: &str,
        region: &str,
    ) -> aws_sdk_cloudwatchlogs::Client {
        let mut clients = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry((role_key.to_string(), region.to_string()))
            .or_insert_with(|| {
                let conf = aws_sdk_cloudwatchlogs::config::Builder::from(&self.base)
                    .credentials_provider(creds.clone())
                    .region(Region::new(region.to_string()))
                    .retry_partition(partition("logs", role_key, region))
                    .build();
                aws_sdk_cloudwatchlogs::Client::from_conf(conf)
            })
            .clone()
    }

    /// The Resource Groups Tagging API of one account-region (a client per
    /// call: it is read every few hours, not every sync).
    pub fn tagging(&self, creds: &SharedCredentialsProvider, region: &str) -> aws_sdk_resourcegroupstagging::Client {
        let conf = aws_sdk_resourcegroupstagging::config::Builder::from(&self.base)
            .credentials_provider(creds.clone())
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_resourcegroupstagging::Client::from_conf(conf)
    }

    /// CloudWatch Observability Access Manager (the monitoring account's
    /// sinks and their links) of one region; a client per call, as it is
    /// read by `check` and `discover`, not by every sync.
    pub fn oam(&self, creds: &SharedCredentialsProvider, region: &str) -> aws_sdk_oam::Client {
        let conf = aws_sdk_oam::config::Builder::from(&self.base)
            .credentials_provider(creds.clone())
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_oam::Client::from_conf(conf)
    }

    /// Organizations has one endpoint, in us-east-1 (aws partition).
    pub fn organizations(&self, creds: &SharedCredentialsProvider) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(&self.base)
            .credentials_provider(creds.clone())
            .region(Region::new("us-east-1"))
            .build();
        aws_sdk_organizations::Client::from_conf(conf)
    }

    /// Cost Explorer has one endpoint, in us-east-1 (aws partition).
    pub fn cost_explorer(&self, creds: &SharedCredentialsProvider) -> aws_sdk_costexplorer::Client {
        let conf = aws_sdk_costexplorer::config::Builder::from(&self.base)
            .credentials_provider(creds.clone())
            .region(Region::new("us-east-1"))
            .build();
        aws_sdk_costexplorer::Client::from_conf(conf)
    }
}

/// A retry budget of its own per service, role and region: the SDK's
/// standard retry spends from a token bucket shared by every client of a
/// partition, and one account in a brownout must not use up the retries of
/// the rest of the fleet.
fn partition(service: &str, role_key: &str, region: &str) -> aws_sdk_cloudwatch::config::retry::RetryPartition {
    aws_sdk_cloudwatch::config::retry::RetryPartition::new(format!("fleetdeck-{service}-{role_key}-{region}"))
}

/// `fleetdeck-<name>` from a caller ARN's last part (`user/ana` → `ana`,
/// `assumed-role/Ops/ana@corp.com` → `ana@corp.com`), else from `$USER`;
/// only the characters a RoleSessionName allows, at most 64 in all.
fn session_name_for(caller_arn: Option<&str>) -> String {
    let from_arn = caller_arn.and_then(|arn| arn.rsplit(['/', ':']).next()).filter(|n| !n.is_empty());
    let who = match from_arn {
        Some(n) => n.to_string(),
        None => std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "viewer".into()),
    };
    let clean: String = who.chars().filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c)).collect();
    let name = if clean.starts_with("fleetdeck-") { clean } else { format!("fleetdeck-{clean}") };
    let name: String = name.chars().take(64).collect();
    if name.len() < "fleetdeck-".len() + 1 {
        "fleetdeck-viewer".into()
    } else {
        name
    }
}

/// The fix when GetFederationToken is refused: AWS gives federation tokens
/// to IAM users only, and only when their policy allows the action.
fn federation_failure(text: &str) -> Option<Failure> {
    let role_fix = "create the payer role (`fleetdeck policy --payer --trusted-account <your account>` prints \
                    its policies) and set payer_role_arn in the fleet file's [fleet] section";
    let remediation = if text.contains("with session credentials") {
        format!(
            "you sign in with SSO or a role, and AWS gives federation tokens to IAM users only; fleetdeck reads \
             cost and Organizations through a session narrowed to its read actions, so it needs a payer role: \
             {role_fix}"
        )
    } else if text.contains("sts:GetFederationToken") {
        format!(
            "allow \"sts:GetFederationToken\" to your IAM user (fleetdeck narrows it to its read actions), or \
             {role_fix}"
        )
    } else {
        return None;
    };
    Some(Failure { status: SourceStatus::AccessDenied, message: plain(text), remediation })
}

/// The SourceIdentity for a caller ARN: its last part (`user/ana` → `ana`,
/// `assumed-role/AWSReservedSSO_Ops_1/ana@corp.com` → `ana@corp.com`), only
/// the characters AssumeRole allows, 2 to 64 of them (STS API Reference,
/// AssumeRole, SourceIdentity).
fn source_identity_for(caller_arn: &str) -> Option<String> {
    let who = caller_arn.rsplit(['/', ':']).next()?;
    let clean: String = who.chars().filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c)).take(64).collect();
    Some(clean).filter(|c| c.len() >= 2)
}

/// Classify an SDK error from any service.
pub fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            format!("{}: {}", e.code().unwrap_or("Error"), e.message().unwrap_or(""))
        }
        other => DisplayErrorContext(other).to_string(),
    };
    classify_text(&text, None)
}

/// Whether a request that failed left this machine, so AWS may bill it:
/// not when it could not be built, when there were no credentials to sign
/// it with (the SDK resolves them before sending, and reports their
/// failure as a dispatch failure), or when no connection to AWS was made.
pub fn was_sent<E, R>(err: &SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::DispatchFailure(d) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
            while let Some(e) = source {
                if e.downcast_ref::<CredentialsError>().is_some() {
                    return false;
                }
                source = e.source();
            }
            let text = DisplayErrorContext(err).to_string();
            let unsent = is_credentials_error(&text)
                || text.contains(crate::reach::UNREACHABLE)
                || d.as_connector_error().is_some_and(crate::reach::could_not_connect);
            !unsent
        }
        _ => true,
    }
}

/// Classify by the AWS error code found in an error's text. The codes are
/// AWS's stable API; credential provider errors only arrive as text.
pub fn classify_text(text: &str, role: Option<(&str, Option<&str>)>) -> Failure {
    let has = |codes: &[&str]| codes.iter().any(|c| text.contains(c));
    // AWS names the action a policy lacks: "... is not authorized to
    // perform: logs:StartQuery on resource: ...".
    let missing_action = text
        .split("not authorized to perform: ")
        .nth(1)
        // An action is letters, digits and ':' (a body the SDK could not
        // parse may follow it with markup, e.g. `</Message>`).
        .and_then(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '*')).next())
        .filter(|a| !a.is_empty());
    let role_only_hint = |r: Option<(&str, Option<&str>)>| match r {
        Some((arn, Some(x))) => {
            format!(
                "check that {arn} exists, trusts this identity and requires ExternalId {x:?} (if it requires \
                 another, the fleet file's external_id is the one to fix)"
            )
        }
        Some((arn, None)) => format!("check that {arn} exists and trusts this identity"),
        None => "grant the role the read-only policy in the README".to_string(),
    };
    let role_hint = || match (missing_action, role) {
        // Denied AssumeRole is the role's trust policy (or the ExternalId),
        // not a permission the role lacks.
        (Some("sts:AssumeRole"), r) => role_only_hint(r),
        (Some(action), _) => {
            format!(
                "add \"{action}\" to the role's permissions policy (the README's read-only policy lists every action)"
            )
        }
        (None, r) => role_only_hint(r),
    };
    let (status, remediation) = if is_credentials_error(text) {
        // Before "unreachable": the SDK wraps a credential provider's
        // failure in a dispatch failure, but nothing was sent.
        (SourceStatus::NoCredentials, Identity::default().fix(text))
    } else if has(&[crate::reach::UNREACHABLE]) {
        (
            SourceStatus::Unreachable,
            "check the network, VPN, proxy or endpoint_url; the next sync tries again".to_string(),
        )
    } else if has(&["RequestTimeTooSkewed", "RequestInTheFuture", "Signature expired", "Signature not yet current"]) {
        // SigV4 signatures carry the laptop's time; AWS refuses those more
        // than 5 minutes from its own. Before "expired": the fix differs.
        (
            SourceStatus::ClockSkew,
            "this machine's clock is off by more than 5 minutes; fix the clock (timedatectl / NTP) and sync again"
                .to_string(),
        )
    } else if has(&["ExpiredToken", "RequestExpired", "TokenRefreshRequired"]) {
        (SourceStatus::Expired, "refresh the base credentials (aws sso login, or new keys) and sync again".to_string())
    } else if has(&["AccessDenied", "UnauthorizedOperation", "AuthorizationError", "NotAuthorized"]) {
        (SourceStatus::AccessDenied, role_hint())
    } else if has(&["InvalidClientTokenId", "UnrecognizedClient", "SignatureDoesNotMatch"]) {
        (
            SourceStatus::AccessDenied,
            "the base identity is not valid: check AWS_PROFILE / --profile and your keys".to_string(),
        )
    } else if has(&["Throttling", "TooManyRequests", "RequestLimitExceeded", "LimitExceeded", "SlowDown"]) {
        (SourceStatus::Throttled, "another client is using this account's quota; the next sync retries".to_string())
    } else if has(&["dispatch failure", "timed out", "timeout", "connection", "io error", "dns error"]) {
        (SourceStatus::Unreachable, "check the network, proxy or endpoint_url; the next sync retries".to_string())
    } else if has(&["OptInRequired", "not enabled", "InvalidRegion", "RegionDisabled"]) {
        (SourceStatus::Unreachable, "enable the region in the account or remove it from the tenant".to_string())
    } else {
        (SourceStatus::Error, "see the error; the next sync retries".to_string())
    };
    Failure { status, message: plain(text), remediation }
}

/// Did the base identity's credentials fail to load (no request was sent)?
/// The SDK's credential providers word it so: an SSO profile not logged in
/// ("failed to load the cached SSO token", an expired SSO session), no
/// provider in the chain with credentials ("no credentials", "the
/// credential provider was not enabled", IMDS unreachable off EC2).
fn is_credentials_error(text: &str) -> bool {
    // What the providers say when they have nothing to give, as opposed to
    // an AssumeRole that was sent and failed on the way (refused, timed out).
    let markers = [
        "no credentials",
        "credential provider was not enabled",
        "credentials provider was not enabled",
        "SSO token",
        "SSO session",
        "loading an access token",
        "IMDS",
        "was not defined",
        "profile file",
    ];
    let answered = ["AccessDenied", "ExpiredToken", "InvalidClientTokenId", "RegionDisabled", "Throttling"]
        .iter()
        .any(|c| text.contains(c));
    markers.iter().any(|m| text.contains(m)) && !answered
}

/// An error's text for people: AWS's own words without the SDK's debug
/// structures (`(ProviderError(ProviderError { ... }))`), without repeated
/// "an error occurred while ..." prefixes, and at most 300 characters, cut
/// at a word.
pub fn plain(text: &str) -> String {
    // The Debug dump starts at " (" followed by a type name and "(" or " {".
    let mut cut = text.len();
    for (i, _) in text.match_indices(" (") {
        let rest = &text[i + 2..];
        let name_len = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':').count();
        let after = &rest[name_len..];
        if name_len > 0
            && rest.starts_with(|c: char| c.is_ascii_uppercase())
            && (after.starts_with('(') || after.starts_with(" {"))
        {
            cut = i;
            break;
        }
    }
    // Providers list what they attempted on lines of their own.
    let flat = text[..cut].split_whitespace().collect::<Vec<_>>().join(" ");
    let credentials = text.contains("an error occurred while loading credentials");
    let mut parts: Vec<&str> = Vec::new();
    for part in flat.split(": ") {
        let part = part.trim();
        // The SDK's wrapping says nothing a person can act on.
        let wrapping = part == "other" || (credentials && part == "dispatch failure");
        if part.is_empty() || wrapping || parts.contains(&part) {
            continue;
        }
        parts.push(part);
    }
    let joined = parts.join(": ");
    if joined.chars().count() <= 300 {
        return joined;
    }
    let mut out: String = joined.chars().take(300).collect();
    if let Some(space) = out.rfind(' ') {
        out.truncate(space);
    }
    out.push_str(" ...");
    out
}

/// Where the base identity comes from: a profile (and who named it), the
/// environment's keys, the default chain, or the simulator's static keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The profile, and where it was named (`--profile`, `the fleet file`,
    /// `AWS_PROFILE`).
    pub profile: Option<(String, String)>,
    /// Static keys: from the environment or the simulator.
    pub keys_from: Option<String>,
}

impl Identity {
    fn of(settings: &AwsSettings) -> Identity {
        if settings.static_credentials.is_some() {
            return Identity { profile: None, keys_from: Some("the simulated fleet's static keys".into()) };
        }
        let profile = match (&settings.profile, std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())) {
            (Some(p), _) => Some((p.clone(), settings.profile_from.unwrap_or("--profile").to_string())),
            (None, Some(p)) => Some((p, "AWS_PROFILE".to_string())),
            (None, None) => None,
        };
        let keys_from = (profile.is_none() && std::env::var_os("AWS_ACCESS_KEY_ID").is_some())
            .then(|| "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string());
        Identity { profile, keys_from }
    }

    /// "profile sso-dev (from --profile)", for the start of a sync or check.
    pub fn describe(&self) -> String {
        match (&self.profile, &self.keys_from) {
            (Some((p, from)), _) => format!("profile {p:?} (from {from})"),
            (None, Some(keys)) => format!("keys from {keys}"),
            (None, None) => "the default credential chain (no --profile, AWS_PROFILE or fleet-file profile)".into(),
        }
    }

    /// A credentials failure with its fix for this identity.
    pub fn explain(&self, f: Failure) -> Failure {
        if f.status != SourceStatus::NoCredentials {
            return f;
        }
        let message = format!("no credentials for {}: {}", self.describe(), f.message);
        Failure { remediation: self.fix(&f.message), message, ..f }
    }

    fn fix(&self, text: &str) -> String {
        let sso = text.contains("SSO") || text.contains("sso");
        match &self.profile {
            Some((p, from)) if !profile_exists(p) => format!(
                "profile {p:?} (named by {from}) is in neither {} nor {}: fix the name, or create it \
                 (aws configure --profile {p}, or aws configure sso --profile {p})",
                config_file(false).display(),
                config_file(true).display()
            ),
            Some((p, _)) if sso || profile_is_sso(p) => format!("log in to AWS SSO: aws sso login --profile {p}"),
            Some((p, _)) => {
                format!("profile {p:?} gives no credentials: check it with aws sts get-caller-identity --profile {p}")
            }
            None if sso => "log in to AWS SSO: aws sso login (with the profile you use)".into(),
            None => "no AWS credentials found: pass --profile NAME, set AWS_PROFILE, set profile in the fleet \
                     file, or configure keys (aws configure)"
                .into(),
        }
    }
}

/// `~/.aws/config`, or `~/.aws/credentials`, as the AWS CLI and SDKs find
/// them (`AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` first).
fn config_file(credentials: bool) -> std::path::PathBuf {
    let (var, name) =
        if credentials { ("AWS_SHARED_CREDENTIALS_FILE", "credentials") } else { ("AWS_CONFIG_FILE", "config") };
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(p) => p.into(),
        None => dirs::home_dir().unwrap_or_default().join(".aws").join(name),
    }
}

/// The sections of a config or credentials file: (profile name, its lines).
fn profile_sections(credentials: bool) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(config_file(credentials)).unwrap_or_default();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            // In the config file profiles are `[profile NAME]` (`[default]`
            // alone); in the credentials file `[NAME]`.
            let name = if credentials {
                Some(header)
            } else {
                header.strip_prefix("profile ").or((header == "default").then_some(header))
            };
            out.push((name.map(|n| n.trim().to_string()).unwrap_or_default(), Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line.to_string());
        }
    }
    out
}

fn profile_exists(profile: &str) -> bool {
    [false, true].iter().any(|c| profile_sections(*c).iter().any(|(n, _)| n == profile))
}

fn profile_is_sso(profile: &str) -> bool {
    profile_sections(false)
        .iter()
        .filter(|(n, _)| n == profile)
        .any(|(_, lines)| lines.iter().any(|l| l.starts_with("sso_")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_policy_allows_only_read_actions() {
        let policy: serde_json::Value = serde_json::from_str(&session_policy()).unwrap();
        let actions = policy["Statement"][0]["Action"].as_array().unwrap();
        assert_eq!(actions.len(), READ_ACTIONS.len());
        for a in actions {
            let a = a.as_str().unwrap();
            let verb = a.split(':').nth(1).unwrap();
            assert!(
                ["Get", "Describe", "List", "Start", "Stop"].iter().any(|p| verb.starts_with(p)),
                "{a} is not a read"
            );
            assert!(!a.contains('*'), "{a} is a wildcard");
        }
        assert_eq!(policy["Statement"][0]["Effect"], "Allow");
    }

    #[test]
    fn a_missing_iam_action_is_named_in_the_remediation() {
        let f = classify_text(
            "AccessDeniedException: User: arn:aws:sts::111111111111:assumed-role/FleetdeckReadOnly/fleetdeck-ana is not \
             authorized to perform: logs:StartQuery on resource: arn:aws:logs:us-east-1:111111111111:log-group:/acme/app \
             because no identity-based policy allows the logs:StartQuery action",
            None,
        );
        assert_eq!(f.status, "access_denied");
        assert!(
            f.remediation.starts_with("add \"logs:StartQuery\" to the role's permissions policy"),
            "{}",
            f.remediation
        );
    }

    #[test]
    fn errors_are_classified_by_their_aws_code() {
        assert_eq!(
            classify_text(
                "AccessDenied: User is not authorized to perform sts:AssumeRole",
                Some(("arn:aws:iam::1:role/r", Some("x")))
            )
            .status,
            "access_denied"
        );
        assert_eq!(classify_text("ThrottlingException: Rate exceeded", None).status, "throttled");
        assert_eq!(
            classify_text("ExpiredTokenException: The security token included in the request is expired", None).status,
            "expired"
        );
        assert_eq!(classify_text("dispatch failure: io error: Connection refused", None).status, "unreachable");
        assert_eq!(classify_text("InternalFailure", None).status, "error");
        assert_eq!(
            classify_text("RegionDisabledException: STS is not activated in this region for account:1", None).status,
            "unreachable"
        );
    }

    #[test]
    fn the_action_named_in_an_unparsed_error_body_stops_at_the_markup() {
        let f = classify_text(
            "unhandled error (403): <Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/ops is not \
             authorized to perform: logs:DescribeLogGroups</Message></Error>",
            None,
        );
        assert!(f.remediation.starts_with("add \"logs:DescribeLogGroups\" to"), "{}", f.remediation);
    }

    #[test]
    fn a_skewed_clock_is_named_with_its_fix() {
        for text in [
            "RequestTimeTooSkewed: The difference between the request time and the current time is too large.",
            "InvalidSignatureException: Signature expired: 20261122T080000Z is now earlier than 20261122T081000Z",
        ] {
            let f = classify_text(text, Some(("arn:aws:iam::111111111111:role/r", None)));
            assert_eq!(f.status, "clock_skew", "{text}");
            assert!(
                f.remediation.starts_with("this machine's clock is off by more than 5 minutes"),
                "{}",
                f.remediation
            );
        }
    }

    /// The SDK's text for an SSO profile not logged in, as seen (its
    /// provider wraps it in a dispatch failure): credentials, not network.
    const SSO_TEXT: &str = "an error occurred while loading credentials: dispatch failure: other: an error occurred \
        while loading credentials: an error occurred while loading an access token: failed to load the cached SSO \
        token (ProviderError(ProviderError { source: DispatchFailure(DispatchFailure { source: ConnectorError { \
        kind: Other(None), source: ProviderError(ProviderError { source: FailedToLoadToken { source: IoError { \
        what: \"read\", path: \"/home/ana/.aws/sso/cache/ee0b.json\" } } }) } }) }))";

    #[test]
    fn an_sso_profile_not_logged_in_is_no_credentials_in_plain_words() {
        let f = classify_text(SSO_TEXT, Some(("arn:aws:iam::1:role/r", None)));
        assert_eq!(f.status, SourceStatus::NoCredentials);
        assert_eq!(
            f.message,
            "an error occurred while loading credentials: an error occurred while loading an access token: failed \
             to load the cached SSO token"
        );
        let who = Identity { profile: Some(("sso-dev".into(), "--profile".into())), keys_from: None };
        assert!(who
            .explain(f.clone())
            .message
            .starts_with("no credentials for profile \"sso-dev\" (from --profile): "));
        // A connection refused while assuming a role was sent: the network.
        let refused = classify_text(
            "an error occurred while loading credentials: dispatch failure: io error: Connection refused (os error 111)",
            None,
        );
        assert_eq!(refused.status, SourceStatus::Unreachable, "{refused:?}");
    }

    #[test]
    fn plain_words_are_cut_at_a_word_and_never_mid_dump() {
        let long = format!("ThrottlingException: {}", "rate exceeded ".repeat(40));
        let p = plain(&long);
        assert!(p.len() <= 304 && p.ends_with(" ..."), "{p}");
        assert!(!p.contains("exce ..."), "cut mid-word: {p}");
        assert_eq!(plain("InternalFailure: boom (ServiceError { raw: 1 })"), "InternalFailure: boom");
    }

    #[test]
    fn sessions_are_named_from_the_caller_identity() {
        assert_eq!(session_name_for(Some("arn:aws:iam::111122223333:user/ana")), "fleetdeck-ana");
        assert_eq!(
            session_name_for(Some("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_1/ana.li@corp.com")),
            "fleetdeck-ana.li@corp.com"
        );
        assert_eq!(session_name_for(Some("arn:aws:iam::111122223333:root")), "fleetdeck-root");
        assert_eq!(session_name_for(Some("arn:aws:iam::999999999999:user/fleetdeck-demo")), "fleetdeck-demo");
        let long = format!("arn:aws:iam::1:user/{}", "a".repeat(100));
        assert_eq!(session_name_for(Some(&long)).len(), 64, "RoleSessionName is at most 64 characters");
        let si = |arn: &str| source_identity_for(arn);
        assert_eq!(
            si("arn:aws:sts::1:assumed-role/AWSReservedSSO_Ops_1/ana.li@corp.com").as_deref(),
            Some("ana.li@corp.com")
        );
        assert_eq!(si("arn:aws:iam::1:user/o'neil").as_deref(), Some("oneil"), "only [\\w+=,.@-]");
        assert_eq!(si(&long).map(|s| s.len()), Some(64));
        assert_eq!(si("arn:aws:iam::1:user/x"), None, "at least 2 characters");
    }
}
