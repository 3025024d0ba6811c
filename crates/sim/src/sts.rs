//! STS over AWS Query: `AssumeRole` and `GetCallerIdentity`, the sessions
//! they issue, and the session policies that narrow them.
//!
//! A session's access key id encodes its account (`ASIA` + 12 digits + 4
//! characters) so a request log reads naturally; the server still looks the
//! key up, because the session token, expiry and policy live with it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::fleet::{MONITORING_ROLE_NAME, PAYER_ACCOUNT, ROLE_NAME};
use super::protocol::{unknown_operation, Service};
use super::series::{hash_str, mix};
use super::server::{lock, not_authorized, ApiError, Call, Caller, Reply};
use super::{AssumeRoleRequest, IssuedCredentials};

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Sessions kept at most; the oldest are forgotten (as if expired).
const MAX_SESSIONS: usize = 50_000;

/// Escapes text for an XML element or attribute.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// An issued session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub account: String,
    pub role: String,
    pub session_name: String,
    pub role_id: String,
    pub token: String,
    pub expires: i64,
    pub policy: Option<Arc<Policy>>,
    /// Issued by GetFederationToken to an IAM user (`role` is empty).
    pub federated: bool,
}

impl Session {
    pub(crate) fn caller(&self) -> Caller {
        if self.federated {
            // GetFederationToken, STS API Reference: FederatedUser.Arn is
            // `arn:aws:sts::<account>:federated-user/<Name>`, the id
            // `<account>:<Name>`.
            return Caller {
                account: self.account.clone(),
                arn: format!("arn:aws:sts::{}:federated-user/{}", self.account, self.session_name),
                user_id: format!("{}:{}", self.account, self.session_name),
                policy: self.policy.clone(),
            };
        }
        Caller {
            account: self.account.clone(),
            arn: format!("arn:aws:sts::{}:assumed-role/{}/{}", self.account, self.role, self.session_name),
            user_id: format!("{}:{}", self.role_id, self.session_name),
            policy: self.policy.clone(),
        }
    }
}

/// Issued sessions by access key id, bounded.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_key: HashMap<String, Session>,
    order: VecDeque<String>,
    issued: u64,
}

impl Sessions {
    pub(crate) fn get(&self, access_key_id: &str) -> Option<&Session> {
        self.by_key.get(access_key_id)
    }

    fn insert(&mut self, key: String, session: Session) {
        while self.order.len() >= MAX_SESSIONS {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key, session);
    }
}

/// The subset of an IAM policy document the simulator evaluates: `Allow` /
/// `Deny` statements over `Action` / `NotAction` patterns. Resources and
/// conditions are not modelled (every fleetdeck read is on `*`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    allow: bool,
    /// `true` for NotAction: the statement applies to actions NOT listed.
    negated: bool,
    actions: Vec<String>,
}

impl Policy {
    /// Parses a policy document; `Err` with the reason when it is malformed.
    pub(crate) fn parse(doc: &str) -> Result<Policy, String> {
        let v: serde_json::Value = serde_json::from_str(doc).map_err(|e| format!("Syntax errors in policy: {e}"))?;
        let statements = match v.get("Statement") {
            Some(serde_json::Value::Array(list)) => list.clone(),
            Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
            _ => return Err("Policy document must contain a Statement".into()),
        };
        let mut out = Vec::new();
        for s in statements {
            let allow = match s.get("Effect").and_then(|e| e.as_str()) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err("Statement Effect must be Allow or Deny".into()),
            };
            let (negated, list) = match (s.get("Action"), s.get("NotAction")) {
                (Some(a), None) => (false, a),
                (None, Some(a)) => (true, a),
                _ => return Err("Statement must have exactly one of Action and NotAction".into()),
            };
            let actions = match list {
                serde_json::Value::String(a) => vec![a.clone()],
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).ok_or("Action must be a string"))
                    .collect::<Result<_, _>>()?,
                _ => return Err("Action must be a string or a list".into()),
            };
            out.push(Statement { allow, negated, actions });
        }
        Ok(Policy { statements: out })
    }

    /// IAM evaluation: an explicit Deny wins, else an Allow is needed.
    pub(crate) fn allows(&self, action: &str) -> bool {
        let applies = |s: &Statement| s.actions.iter().any(|p| glob(p, action)) != s.negated;
        if self.statements.iter().any(|s| !s.allow && applies(s)) {
            return false;
        }
        self.statements.iter().any(|s| s.allow && applies(s))
    }
}

/// Case-insensitive IAM wildcard match (`*` any run, `?` one character).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

pub(crate) fn handle(call: &Call<'_>, operation: &str, form: &[(String, String)]) -> Result<Reply, ApiError> {
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if call.caller.arn.contains(":federated-user/") && operation != "GetCallerIdentity" {
        // A federation token "cannot call any STS operations except
        // GetCallerIdentity" (IAM User Guide, Compare AWS STS credentials).
        return Err(not_authorized(call, Service::Sts, &format!("sts:{operation}"), None, None));
    }
    match operation {
        "GetCallerIdentity" => Ok(Reply::Xml(format!(
            "<GetCallerIdentityResponse xmlns=\"{XMLNS}\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
            xml_escape(&call.caller.arn),
            xml_escape(&call.caller.user_id),
            xml_escape(&call.caller.account),
            xml_escape(&call.request_id)
        ))),
        "AssumeRole" => {
            // Every AssumeRole is remembered, refused or not, with the
            // session policy it carried and what it was issued.
            let mut issued = None;
            let answer = assume_role(call, &param, &mut issued);
            call.state.record_assume_role(AssumeRoleRequest {
                caller_account: call.caller.account.clone(),
                role_arn: param("RoleArn").unwrap_or_default().to_string(),
                external_id: param("ExternalId").map(str::to_string),
                session_name: param("RoleSessionName").unwrap_or_default().to_string(),
                source_identity: param("SourceIdentity").map(str::to_string),
                policy: param("Policy").map(str::to_string),
                issued,
                federation_name: None,
            });
            answer
        }
        "GetFederationToken" => {
            let mut issued = None;
            let answer = federation_token(call, &param, &mut issued);
            call.state.record_assume_role(AssumeRoleRequest {
                caller_account: call.caller.account.clone(),
                role_arn: call.caller.arn.clone(),
                external_id: None,
                session_name: param("Name").unwrap_or_default().to_string(),
                source_identity: None,
                policy: param("Policy").map(str::to_string),
                issued,
                federation_name: Some(param("Name").unwrap_or_default().to_string()),
            });
            answer
        }
        _ => Err(unknown_operation(call.protocol, Service::Sts, operation)),
    }
}

/// GetFederationToken (STS API Reference): "You must call the
/// GetFederationToken operation using the long-term security credentials of
/// an IAM user" (re:Post quotes AWS's refusal of session credentials:
/// "Cannot call GetFederationToken with session credentials"); Name is 2 to
/// 32 characters of [\w+=,.@-]; DurationSeconds 900 to 129,600, 43,200 when
/// omitted; the session may do only what both the user's policies and the
/// `Policy` passed allow, and "cannot call any STS operations except
/// GetCallerIdentity" (IAM User Guide, Compare AWS STS credentials).
fn federation_token<'a>(
    call: &Call<'_>,
    param: &dyn Fn(&str) -> Option<&'a str>,
    issued: &mut Option<IssuedCredentials>,
) -> Result<Reply, ApiError> {
    if !call.caller.arn.contains(":user/") {
        return Err(ApiError::new(403, "AccessDenied", "Cannot call GetFederationToken with session credentials"));
    }
    let name = param("Name").ok_or_else(|| {
        validation(
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if !(2..=32).contains(&name.len()) || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 32 and match [\\w+=,.@-]*"
        )));
    }
    let duration: i64 = match param("DurationSeconds") {
        None => 43_200,
        Some(d) => d.parse().ok().filter(|d| (900..=129_600).contains(d)).ok_or_else(|| {
            validation(format!("1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 129600"))
        })?,
    };
    let policy = match param("Policy") {
        None => None,
        Some(doc) if doc.len() > 2048 => {
            return Err(validation("1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"))
        }
        Some(doc) => Some(Arc::new(Policy::parse(doc).map_err(|e| ApiError::new(400, "MalformedPolicyDocument", e))?)),
    };
    let account = call.caller.account.clone();
    let (access_key_id, secret, token) = new_keys(call, &account, name);
    let expires = call.now.saturating_add(duration);
    let session = Session {
        account: account.clone(),
        role: String::new(),
        session_name: name.to_string(),
        role_id: String::new(),
        token: token.clone(),
        expires,
        policy: policy.clone(),
        federated: true,
    };
    let (caller, credentials) = issue(call, session, (access_key_id, secret, token), issued);
    Ok(Reply::Xml(format!(
        "<GetFederationTokenResponse xmlns=\"{XMLNS}\">\n  <GetFederationTokenResult>\n{credentials}    <FederatedUser>\n      <FederatedUserId>{}</FederatedUserId>\n      <Arn>{}</Arn>\n    </FederatedUser>{}\n  </GetFederationTokenResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetFederationTokenResponse>\n",
        xml_escape(&caller.user_id),
        xml_escape(&caller.arn),
        packed_policy_size(param("Policy")),
        xml_escape(&call.request_id),
    )))
}

/// Remember `session` under its keys, hand them to the request's record,
/// and answer them: the session's caller and the `<Credentials>` element.
fn issue(
    call: &Call<'_>,
    session: Session,
    (access_key_id, secret, token): (String, String, String),
    issued: &mut Option<IssuedCredentials>,
) -> (Caller, String) {
    let caller = session.caller();
    let expiration = chrono::DateTime::from_timestamp(session.expires, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    lock(&call.state.sessions).insert(access_key_id.clone(), session);
    let xml = format!(
        "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        xml_escape(&access_key_id),
        xml_escape(&secret),
        xml_escape(&token),
        xml_escape(&expiration),
    );
    *issued = Some(IssuedCredentials { access_key_id, secret_access_key: secret, session_token: token });
    (caller, xml)
}

/// `<PackedPolicySize>`: the share of the packed-policy budget a session
/// policy uses, reported whenever one was passed.
fn packed_policy_size(policy: Option<&str>) -> String {
    match policy {
        Some(p) => format!("\n    <PackedPolicySize>{}</PackedPolicySize>", (p.len() * 100 / 2048).max(1)),
        None => String::new(),
    }
}

/// A fresh key id, secret and session token for a session in `account`.
fn new_keys(call: &Call<'_>, account: &str, session_name: &str) -> (String, String, String) {
    let seed = call.state.fleet.options.seed;
    let n = {
        let mut sessions = lock(&call.state.sessions);
        sessions.issued += 1;
        sessions.issued
    };
    let access_key_id = format!("ASIA{account}{}", base32(n, 4));
    let secret = format!("{:016x}{:016x}{:08x}", mix(&[seed, n, 1]), mix(&[seed, n, 2]), mix(&[seed, n, 3]) >> 32);
    let token = format!(
        "FwoGZXIvYXdzEFleetdeckSim{:016x}{:016x}{:016x}",
        mix(&[seed, n, 4]),
        mix(&[seed, n, 5]),
        hash_str(session_name)
    );
    (access_key_id, secret, token)
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationError", message)
}

fn assume_role<'a>(
    call: &Call<'_>,
    param: &dyn Fn(&str) -> Option<&'a str>,
    issued: &mut Option<IssuedCredentials>,
) -> Result<Reply, ApiError> {
    let fleet = &call.state.fleet;
    let role_arn = param("RoleArn").ok_or_else(|| validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"))?;
    let session_name = param("RoleSessionName").ok_or_else(|| validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"))?;
    let session_ok = (2..=64).contains(&session_name.len())
        && session_name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let duration: i64 = match param("DurationSeconds") {
        None => 3600,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (900..=43_200).contains(d))
            .ok_or_else(|| validation(format!("1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")))?,
    };
    if duration > 3600 {
        // The fleet's roles keep the default MaxSessionDuration of 1 hour.
        return Err(validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role."));
    }
    let external_id = param("ExternalId");
    if let Some(ext) = external_id {
        if !(2..=1224).contains(&ext.len()) {
            return Err(validation("1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224"));
        }
    }
    // SourceIdentity (AssumeRole, STS API Reference): 2 to 64 characters of
    // [\w+=,.@-]; "You cannot use a value that begins with the text aws:".
    let source_identity = param("SourceIdentity");
    if let Some(si) = source_identity {
        let ok = (2..=64).contains(&si.len())
            && si.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
            && !si.to_ascii_lowercase().starts_with("aws:");
        if !ok {
            return Err(validation(format!(
                "1 validation error detected: Value '{si}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
    }
    let policy = match param("Policy") {
        None => None,
        Some(doc) if doc.len() > 2048 => {
            return Err(validation("1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"))
        }
        Some(doc) => Some(Arc::new(
            Policy::parse(doc).map_err(|e| ApiError::new(400, "MalformedPolicyDocument", e))?,
        )),
    };

    // arn:aws:iam::<account>:role/<path/>name
    let parsed =
        role_arn.strip_prefix("arn:aws:iam::").and_then(|rest| rest.split_once(":role/")).filter(|(account, name)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
    let Some((account, role_path)) = parsed else {
        return Err(validation(format!("{role_arn} is invalid")));
    };
    let role = role_path.rsplit('/').next().unwrap_or(role_path);

    // Which roles exist: FleetdeckReadOnly in the fleet's accounts, the
    // customer-named role in a remote tenant's, FleetdeckMonitoring (and
    // only it) in the monitoring account, and the tenant's ExternalId in
    // its trust policy.
    let owner = fleet.account_owner(account);
    let role_exists = match owner {
        Some(t) => role == t.role_name(),
        None if fleet.is_monitoring(account) => role == MONITORING_ROLE_NAME,
        None => {
            fleet.accounts().contains(&account)
                && (role == ROLE_NAME || (account == PAYER_ACCOUNT && role == "FleetdeckCostReader"))
        }
    };
    let trust_ok = match owner.and_then(|t| t.external_id.as_deref()) {
        Some(expected) => external_id == Some(expected),
        None => true,
    };
    let knobs = call.state.knobs();
    let missing = knobs.deny_assume_role.iter().any(|a| a == account);
    if !role_exists || !trust_ok || missing {
        // The trust policy refuses: AWS names no policy in this message.
        return Err(not_authorized(call, Service::Sts, "sts:AssumeRole", Some(role_arn), None));
    }
    // "To set a source identity, the principal must have permission for the
    // sts:SetSourceIdentity action in the role trust policy" (IAM User Guide,
    // Monitor and control actions taken with assumed roles): a role made
    // before fleetdeck asked for it refuses the whole AssumeRole.
    if source_identity.is_some() && knobs.no_set_source_identity.iter().any(|a| a == account) {
        return Err(not_authorized(call, Service::Sts, "sts:SetSourceIdentity", Some(role_arn), None));
    }

    let seed = call.state.fleet.options.seed;
    let (access_key_id, secret, token) = new_keys(call, account, session_name);
    let role_id = format!("AROA{}", base32(mix(&[seed, hash_str(account), hash_str(role)]), 17));
    // The knob shortens (or lengthens) what was asked for, honestly: the
    // Expiration returned is when the simulator starts refusing the keys.
    let lifetime = knobs.credential_ttl.map_or(duration, |ttl| {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        millis.saturating_add(999) / 1000
    });
    let expires = call.now.saturating_add(lifetime);
    let session = Session {
        account: account.to_string(),
        role: role.to_string(),
        session_name: session_name.to_string(),
        role_id: role_id.clone(),
        token: token.clone(),
        expires,
        policy: policy.clone(),
        federated: false,
    };
    let (caller, credentials) = issue(call, session, (access_key_id, secret, token), issued);
    let packed = packed_policy_size(policy.as_ref().and(param("Policy")));
    let source = source_identity
        .map(|si| format!("\n    <SourceIdentity>{}</SourceIdentity>", xml_escape(si)))
        .unwrap_or_default();
    Ok(Reply::Xml(format!(
        "<AssumeRoleResponse xmlns=\"{XMLNS}\">\n  <AssumeRoleResult>\n{credentials}    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>{packed}{source}\n  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n",
        xml_escape(&caller.user_id),
        xml_escape(&caller.arn),
        xml_escape(&call.request_id),
    )))
}

/// `len` characters of base32 (A-Z, 2-7) from the low bits of `n`, most
/// significant first: the alphabet of AWS key ids.
fn base32(n: u64, len: usize) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..len)
        .rev()
        .map(|i| {
            let shift = (5 * i) % 64;
            ALPHABET[((n >> shift) & 31) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_markup_and_quotes() {
        assert_eq!(
            xml_escape(r#"Tyrell <Replicants> & "Sons" 'x'"#),
            "Tyrell &lt;Replicants&gt; &amp; &quot;Sons&quot; &apos;x&apos;"
        );
        assert_eq!(xml_escape("a\u{1}b"), "ab");
    }

    #[test]
    fn session_policy_allows_listed_reads_only() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudwatch:GetMetricData","cloudwatch:Describe*","logs:StartQuery","logs:GetQueryResults"],"Resource":"*"}]}"#,
        )
        .expect("valid policy");
        assert!(p.allows("cloudwatch:GetMetricData"));
        assert!(p.allows("cloudwatch:DescribeAlarms"));
        assert!(p.allows("CloudWatch:describealarms"), "actions are case-insensitive");
        assert!(!p.allows("cloudwatch:PutMetricData"));
        assert!(!p.allows("ce:GetCostAndUsage"));
        let deny = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"*"},{"Effect":"Deny","NotAction":["cloudwatch:Get*"]}]}"#,
        )
        .expect("valid policy");
        assert!(deny.allows("cloudwatch:GetMetricData"));
        assert!(!deny.allows("logs:StartQuery"));
        assert!(Policy::parse("{not json").is_err());
        assert!(Policy::parse(r#"{"Statement":[{"Effect":"Maybe","Action":"*"}]}"#).is_err());
    }

    #[test]
    fn keys_look_like_aws_keys() {
        assert_eq!(base32(0, 4), "AAAA");
        assert_eq!(base32(31, 4), "AAA7");
        assert_eq!(format!("ASIA{}{}", "123456789012", base32(5, 4)).len(), 20);
    }
}
