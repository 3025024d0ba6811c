//! Redaction of secrets and personal data from text fleetdeck caches.
//! Secrets ([`redact_secrets`]: AWS access keys, JWTs, bearer tokens,
//! `key=value` secrets, long random strings, card numbers) are redacted for
//! every tenant, always; personal data as well ([`redact`]: e-mail, IPv4 and
//! IPv6 addresses) for data-residency tenants, and for all when the fleet
//! file says `redact_personal_data = true`. IP candidates are confirmed with the
//! standard library's parsers, so a clock time like `08:00:00` or a version
//! like `1.2.3` is not mistaken for an address.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use regex::Regex;

struct Patterns {
    email: Regex,
    secret_kv: Regex,
    bearer: Regex,
    jwt: Regex,
    aws_key: Regex,
    long_token: Regex,
    card: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        email: Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}").expect("email"),
        secret_kv: Regex::new(
            r#"(?i)\b((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth|session)[A-Za-z_\-]*)(\s*[=:]\s*"?)([^\s"',;&]+)"#,
        )
        .expect("kv"),
        bearer: Regex::new(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*").expect("bearer"),
        jwt: Regex::new(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+").expect("jwt"),
        aws_key: Regex::new(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b").expect("aws key"),
        long_token: Regex::new(r"\b[A-Za-z0-9+/_\-]{32,}={0,2}").expect("token"),
        // 13 to 19 digits, in groups separated by a space or a dash, with
        // a card network's first digit (3 Amex/Diners/JCB, 4 Visa, 5
        // Mastercard, 6 Discover): epoch milliseconds (1...) are not cards.
        card: Regex::new(r"\b[3-6]\d(?:[ -]?\d){11,17}\b").expect("card"),
    })
}

/// Redact secrets and personal data from one piece of text.
pub fn redact(text: &str) -> String {
    let p = patterns();
    let out = redact_secrets(text);
    let out = p.email.replace_all(&out, "<email>").into_owned();
    redact_ips(&out)
}

/// Redact secrets only (keys, tokens, `key=value` secrets, card numbers),
/// keeping personal data: what every tenant's cached text gets.
pub fn redact_secrets(text: &str) -> String {
    let p = patterns();
    let mut out = p.jwt.replace_all(text, "<token>").into_owned();
    out = p.bearer.replace_all(&out, "Bearer <token>").into_owned();
    out = p
        .secret_kv
        .replace_all(&out, |c: &regex::Captures| {
            // Already redacted ("Authorization: Bearer <token>"): leave it.
            if c[3].starts_with('<') || c[3].eq_ignore_ascii_case("bearer") {
                c[0].to_string()
            } else {
                format!("{}{}<secret>", &c[1], &c[2])
            }
        })
        .into_owned();
    out = p.aws_key.replace_all(&out, "<aws-key>").into_owned();
    out = p
        .card
        .replace_all(&out, |c: &regex::Captures| {
            let digits: Vec<u32> = c[0].chars().filter_map(|d| d.to_digit(10)).collect();
            if luhn(&digits) {
                "<card>".to_string()
            } else {
                c[0].to_string()
            }
        })
        .into_owned();
    out = p
        .long_token
        .replace_all(&out, |c: &regex::Captures| {
            let s = &c[0];
            // Random strings mix letters and digits; long words or paths don't.
            let digits = s.bytes().filter(u8::is_ascii_digit).count();
            let letters = s.bytes().filter(u8::is_ascii_alphabetic).count();
            if digits >= 4 && letters >= 4 {
                "<token>".to_string()
            } else {
                s.to_string()
            }
        })
        .into_owned();
    out
}

/// The Luhn checksum every payment card number passes.
fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                *d
            }
        })
        .sum();
    digits.len() >= 13 && sum % 10 == 0
}

/// Replace every IPv4 or IPv6 address (optionally with a port or zone).
fn redact_ips(text: &str) -> String {
    let is_part = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.' || c == '%';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_part) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let mut end = tail.find(|c: char| !is_part(c)).unwrap_or(tail.len());
        // An IPv6 zone (`%eth0`) is any name, not only hex digits.
        if tail[..end].contains('%') {
            end += tail[end..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len() - end);
        }
        out.push_str(&redact_token(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn redact_token(tok: &str) -> String {
    let trimmed = tok.trim_end_matches(['.', ':']);
    let suffix = &tok[trimmed.len()..];
    let bare = trimmed.split('%').next().unwrap_or(trimmed);
    if bare.contains(':') && bare.parse::<Ipv6Addr>().is_ok() {
        return format!("<ip>{suffix}");
    }
    // IPv4, possibly with a port.
    let (host, port) = match bare.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => (h, Some(p)),
        _ => (bare, None),
    };
    if host.parse::<Ipv4Addr>().is_ok() {
        return match port {
            Some(p) => format!("<ip>:{p}{suffix}"),
            None => format!("<ip>{suffix}"),
        };
    }
    tok.to_string()
}

/// Redact every string inside a JSON value: secrets, and personal data too
/// when `personal`.
pub fn redact_json(v: &mut serde_json::Value, personal: bool) {
    match v {
        serde_json::Value::String(s) => *s = if personal { redact(s) } else { redact_secrets(s) },
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| redact_json(v, personal)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|v| redact_json(v, personal)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_and_secrets_are_redacted() {
        let cases = [
            ("payment failed for jane.doe+eu@example.co.uk", "payment failed for <email>"),
            ("client 203.0.113.42 retried", "client <ip> retried"),
            ("upstream 10.0.0.7:8443 reset", "upstream <ip>:8443 reset"),
            ("from 2001:db8:85a3::8a2e:370:7334.", "from <ip>."),
            ("peer fe80::1%eth0 down", "peer <ip> down"),
            ("key AKIAIOSFODNN7EXAMPLE used", "key <aws-key> used"),
            ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer <token>"),
            ("api_key=sk_live_51Hx9 rest", "api_key=<secret> rest"),
            ("password: \"hunter2\"", "password: \"<secret>\""),
            ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl ok", "jwt <token> ok"),
            ("session=9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6 end", "session=<secret> end"),
            ("id 9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6 end", "id <token> end"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "2026-11-22 08:00:00.000 ERROR PaymentGatewayTimeout after 30s",
            "version 1.2.3 of module crate::sync::run",
            "PaymentGatewayTimeoutExceptionHandlerFactoryBeanDefinition",
            "deadbeef is not an address",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn every_string_in_a_json_row_is_redacted() {
        let row = serde_json::json!([{"error_type": "Timeout", "who": "bob@example.com", "key": "api_key=sk_live_9f", "n": 3}]);
        let mut v = row.clone();
        redact_json(&mut v, true);
        assert_eq!(
            v,
            serde_json::json!([{"error_type": "Timeout", "who": "<email>", "key": "api_key=<secret>", "n": 3}])
        );
        // Without personal data: the secret still goes, the address stays.
        let mut v = row;
        redact_json(&mut v, false);
        assert_eq!(
            v,
            serde_json::json!([{"error_type": "Timeout", "who": "bob@example.com", "key": "api_key=<secret>", "n": 3}])
        );
    }

    #[test]
    fn card_numbers_that_pass_luhn_are_redacted_and_other_long_numbers_are_not() {
        assert_eq!(redact_secrets("card 4111 1111 1111 1111 declined"), "card <card> declined");
        assert_eq!(redact_secrets("card 4111-1111-1111-1111"), "card <card>");
        assert_eq!(redact_secrets("order 1234567890123 shipped"), "order 1234567890123 shipped");
        assert_eq!(redact_secrets("epoch 1795300000000"), "epoch 1795300000000");
    }
}
