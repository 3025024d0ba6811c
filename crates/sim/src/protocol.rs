//! The wire protocols: which one a request speaks and which service it is
//! for, the errors each protocol words its own way, and the rendering of
//! answers and errors on the wire.
//!
//! One loopback endpoint stands in for every regional endpoint, so the
//! service is the one the request was signed for: the service of its SigV4
//! credential scope (`Credential=AKID/YYYYMMDD/region/<service>/aws4_request`,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonParameters.html>):
//! `monitoring` (CloudWatch), `sts`, `logs`, `ce` (Cost Explorer),
//! `organizations`, `tagging`, `oam` (CloudWatch Observability Access
//! Manager). The protocol is what the request looks like:
//!
//! | protocol | how a request says so | spec |
//! |---|---|---|
//! | Smithy RPC v2 CBOR | `POST /service/<Service>/operation/<Op>`, `smithy-protocol: rpc-v2-cbor` | <https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html> |
//! | AWS JSON 1.0 / 1.1 | `X-Amz-Target: <TargetPrefix>.<Op>` | <https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html> |
//! | AWS restJson1 | signed for `oam`: `POST /<Op>` with a JSON body | <https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html> |
//! | AWS Query | none of these: a form (`Action=<Op>&Version=...`) | <https://smithy.io/2.0/aws/protocols/aws-query-protocol.html> |
//!
//! A service that does not serve the protocol a request speaks (a form
//! signed for `logs`, a JSON target of another service) gets that
//! protocol's unknown-operation error. An unsigned request, or one signed
//! for a service the simulator does not know, is routed by its shape alone:
//! RPC v2 CBOR is CloudWatch, a JSON target names its service, and a form
//! is STS.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};

use super::server::{ApiError, Reply};
use super::{cloudwatch, sts};

/// The wire protocol of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// AWS Query: form in, XML out (STS, CloudWatch).
    Query,
    /// Smithy RPC v2 CBOR (CloudWatch).
    Cbor,
    /// AWS JSON 1.0 (CloudWatch). CloudWatch is `awsQueryCompatible`: its
    /// errors carry their AWS Query code, so they use the same codes as
    /// [`Protocol::Query`] and [`Protocol::Cbor`].
    Json10,
    /// AWS JSON 1.1 (Logs, Cost Explorer, Organizations).
    Json,
    /// AWS restJson1 (OAM): the operation in the path (`POST /ListSinks`),
    /// JSON in and out, errors named by the `x-amzn-ErrorType` header.
    RestJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Sts,
    CloudWatch,
    Logs,
    CostExplorer,
    Organizations,
    /// The Resource Groups Tagging API.
    Tagging,
    /// CloudWatch Observability Access Manager (cross-account observability).
    Oam,
    Unknown,
}

impl Service {
    /// IAM prefix of the service's actions.
    pub(crate) fn iam_prefix(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::CloudWatch => "cloudwatch",
            Service::Logs => "logs",
            Service::CostExplorer => "ce",
            Service::Organizations => "organizations",
            Service::Tagging => "tag",
            Service::Oam => "oam",
            Service::Unknown => "unknown",
        }
    }

    /// The service of a SigV4 signing name (the credential scope's), `None`
    /// for a service the simulator does not know.
    fn from_signing_name(name: &str) -> Option<Service> {
        match name {
            "monitoring" => Some(Service::CloudWatch),
            "sts" => Some(Service::Sts),
            "logs" => Some(Service::Logs),
            "ce" => Some(Service::CostExplorer),
            "organizations" => Some(Service::Organizations),
            "tagging" => Some(Service::Tagging),
            // botocore's model: "signingName":"oam", "protocol":"rest-json".
            "oam" => Some(Service::Oam),
            _ => None,
        }
    }

    /// The service of an `X-Amz-Target` prefix (the service's shape name,
    /// botocore's `targetPrefix`).
    fn from_target_prefix(prefix: &str) -> Service {
        match prefix {
            cloudwatch::wire::TARGET_PREFIX => Service::CloudWatch,
            "Logs_20140328" => Service::Logs,
            "AWSInsightsIndexService" => Service::CostExplorer,
            "AWSOrganizationsV20161128" => Service::Organizations,
            "ResourceGroupsTaggingAPI_20170126" => Service::Tagging,
            _ => Service::Unknown,
        }
    }

    /// The API version, which AWS Query requests carry as `Version`.
    fn api_version(self) -> Option<&'static str> {
        match self {
            Service::Sts => Some("2011-06-15"),
            Service::CloudWatch => Some(cloudwatch::wire::API_VERSION),
            Service::Logs => Some("2014-03-28"),
            Service::CostExplorer => Some("2017-10-25"),
            Service::Organizations => Some("2016-11-28"),
            Service::Tagging => Some("2017-01-26"),
            Service::Oam => Some("2022-06-10"),
            Service::Unknown => None,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub protocol: Protocol,
    pub service: Service,
    /// From the path or the target; empty for AWS Query, whose operation is
    /// in the form (`Action`).
    pub operation: String,
}

/// Routes a request by its path, `X-Amz-Target` and `smithy-protocol`
/// headers, and the service it was signed for (`scope`). A request signed
/// for OAM without a target is restJson1 (the operation is the path);
/// anything else that is neither RPC v2 CBOR nor has a target is AWS Query.
pub(crate) fn route(path: &str, target: Option<&str>, smithy_protocol: Option<&str>, scope: Option<&str>) -> Route {
    let signed_for = scope.and_then(Service::from_signing_name);
    // Signed for another service than the request's shape names: that
    // service's endpoint does not know the operation.
    let unless_signed_otherwise = |service: Service| match signed_for {
        Some(s) if s != service => Service::Unknown,
        _ => service,
    };
    if path.starts_with("/service/") || smithy_protocol == Some("rpc-v2-cbor") {
        // RPC v2 CBOR requests go to /service/{ServiceName}/operation/{OperationName}.
        let operation = match path.strip_prefix("/service/").and_then(|rest| rest.split_once("/operation/")) {
            Some((cloudwatch::wire::TARGET_PREFIX, op)) if !op.is_empty() && !op.contains('/') => op.to_string(),
            _ => String::new(),
        };
        return Route { protocol: Protocol::Cbor, service: unless_signed_otherwise(Service::CloudWatch), operation };
    }
    if let Some(target) = target {
        let (prefix, operation) = target.split_once('.').unwrap_or(("", target));
        let service = unless_signed_otherwise(Service::from_target_prefix(prefix));
        // CloudWatch is the one JSON 1.0 service here (botocore's service
        // model: "jsonVersion": "1.0"); the others speak JSON 1.1.
        let protocol = if service == Service::CloudWatch { Protocol::Json10 } else { Protocol::Json };
        return Route { protocol, service, operation: operation.to_string() };
    }
    if signed_for == Some(Service::Oam) {
        // restJson1 binds each OAM operation to `POST /<Op>` (botocore's
        // model: "requestUri":"/ListSinks"); any other path (the tagging
        // operations' `/tags/{ResourceArn}`) is no operation served here.
        let operation = match path.strip_prefix('/') {
            Some(op) if !op.is_empty() && op.bytes().all(|b| b.is_ascii_alphanumeric()) => op.to_string(),
            _ => String::new(),
        };
        return Route { protocol: Protocol::RestJson, service: Service::Oam, operation };
    }
    let service = match signed_for {
        None | Some(Service::Sts) => Service::Sts,
        Some(Service::CloudWatch) => Service::CloudWatch,
        Some(_) => Service::Unknown,
    };
    Route { protocol: Protocol::Query, service, operation: String::new() }
}

/// An opaque paging token: the offset and a check derived from the seed
/// and the operation's `salt`, so a token from elsewhere is refused rather
/// than misread.
pub(crate) fn page_token(seed: u64, salt: u64, offset: usize) -> String {
    format!("{:016x}{offset:08x}", crate::series::mix(&[seed, salt, offset as u64]))
}

/// The offset of a token [`page_token`] made with the same seed and salt.
pub(crate) fn parse_page_token(seed: u64, salt: u64, t: &str) -> Option<usize> {
    if t.len() != 24 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let offset = usize::from_str_radix(&t[16..], 16).ok()?;
    (page_token(seed, salt, offset) == t).then_some(offset)
}

/// The protocol's answer to an operation the simulator does not serve.
pub(crate) fn unknown_operation(protocol: Protocol, service: Service, operation: &str) -> ApiError {
    match protocol {
        Protocol::Query => {
            let message = match service.api_version() {
                Some(version) => format!("Could not find operation {operation} for version {version}"),
                None => format!("Could not find operation {operation}"),
            };
            ApiError::new(400, "InvalidAction", message)
        }
        Protocol::Cbor => ApiError::new(404, "UnknownOperationException", format!("Unknown operation {operation}")),
        Protocol::Json10 | Protocol::Json => {
            ApiError::new(400, "UnknownOperationException", format!("Unknown operation {operation}"))
        }
        // A restJson1 service has no route for the method and path.
        Protocol::RestJson => ApiError::new(404, "UnknownOperationException", format!("Unknown operation {operation}")),
    }
}

pub(crate) fn access_denied(protocol: Protocol, message: String) -> ApiError {
    match protocol {
        Protocol::Query | Protocol::Cbor | Protocol::Json10 => ApiError::new(403, "AccessDenied", message),
        Protocol::Json => ApiError::new(400, "AccessDeniedException", message),
        // "AccessDeniedException ... HTTP Status Code: 403" (Common Errors,
        // OAM API Reference).
        Protocol::RestJson => ApiError::new(403, "AccessDeniedException", message),
    }
}

/// What AWS answers when the request's credentials mean nothing to the
/// region (an opt-in region not enabled for the account).
pub(crate) fn unrecognized_client(protocol: Protocol) -> ApiError {
    let message = "The security token included in the request is invalid.";
    match protocol {
        Protocol::Json => ApiError::new(400, "UnrecognizedClientException", message),
        Protocol::RestJson => ApiError::new(403, "UnrecognizedClientException", message),
        Protocol::Query | Protocol::Cbor | Protocol::Json10 => ApiError::new(403, "InvalidClientTokenId", message),
    }
}

pub(crate) fn throttled(protocol: Protocol, service: Service) -> ApiError {
    match (protocol, service) {
        (Protocol::Json, Service::CostExplorer) => {
            ApiError::new(400, "LimitExceededException", "You have exceeded the rate limit. Try again later.")
        }
        (Protocol::Json, Service::Organizations) => ApiError::new(
            400,
            "TooManyRequestsException",
            "You have sent too many requests in too short a period of time. The quota helps protect against denial-of-service attacks. Try again later.",
        )
        .with("Type", "TooManyRequests"),
        // "ThrottlingException ... HTTP Status Code: 400" (Common Errors,
        // OAM API Reference).
        (Protocol::Json | Protocol::RestJson, _) => ApiError::new(400, "ThrottlingException", "Rate exceeded"),
        _ => ApiError::new(400, "Throttling", "Rate exceeded"),
    }
}

/// An injected server-side failure: 500 or 503, which every SDK retries.
pub(crate) fn server_error(service: Service, unavailable: bool) -> ApiError {
    match (service, unavailable) {
        (Service::Organizations, _) => ApiError::new(
            500,
            "ServiceException",
            "AWS Organizations can't complete your request because of an internal service error. Try again later.",
        ),
        (_, false) => ApiError::new(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        (_, true) => {
            ApiError::new(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    UnknownKey,
    Expired,
}

pub(crate) fn auth_error(protocol: Protocol, failure: AuthFailure) -> ApiError {
    // AWS Query and the query-compatible CloudWatch use the old codes with
    // 403; the JSON 1.1 services use their *Exception names with 400; OAM
    // (restJson1) the *Exception names with 403 ("ExpiredTokenException
    // ... HTTP Status Code: 403", Common Errors, OAM API Reference).
    match (protocol, failure) {
        (Protocol::RestJson, AuthFailure::Missing) => {
            ApiError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        }
        (Protocol::RestJson, AuthFailure::UnknownKey) => {
            ApiError::new(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        }
        (Protocol::RestJson, AuthFailure::Expired) => {
            ApiError::new(403, "ExpiredTokenException", "The security token included in the request is expired")
        }
        (Protocol::Json, AuthFailure::Missing) => {
            ApiError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        }
        (_, AuthFailure::Missing) => {
            ApiError::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        }
        (Protocol::Json, AuthFailure::UnknownKey) => {
            ApiError::new(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
        }
        (_, AuthFailure::UnknownKey) => {
            ApiError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        }
        (Protocol::Json, AuthFailure::Expired) => {
            ApiError::new(400, "ExpiredTokenException", "The security token included in the request is expired")
        }
        (_, AuthFailure::Expired) => {
            ApiError::new(403, "ExpiredToken", "The security token included in the request is expired")
        }
    }
}

/// The HTTP response for an answer or an error, in the request's protocol.
/// A CloudWatch answer in JSON 1.0 or AWS Query arrives already encoded
/// ([`cloudwatch::wire::to_wire`]).
pub(crate) fn render(
    protocol: Protocol,
    service: Service,
    request_id: &str,
    result: Result<Reply, ApiError>,
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().header("x-amzn-requestid", request_id);
    let (status, body) = match result {
        Ok(Reply::Xml(xml)) => {
            builder = builder.header("content-type", "text/xml");
            (200, xml.into_bytes())
        }
        Ok(Reply::Cbor(value)) => {
            builder = builder.header("content-type", "application/cbor").header("smithy-protocol", "rpc-v2-cbor");
            (200, cloudwatch::encode(&value))
        }
        Ok(Reply::Json(value)) => {
            let content_type =
                if protocol == Protocol::RestJson { "application/json" } else { "application/x-amz-json-1.1" };
            builder = builder.header("content-type", content_type);
            (200, value.to_string().into_bytes())
        }
        Ok(Reply::Raw { content_type, cbor, body }) => {
            builder = builder.header("content-type", content_type);
            if cbor {
                builder = builder.header("smithy-protocol", "rpc-v2-cbor");
            }
            (200, body)
        }
        Err(e) => {
            let fault = if e.status >= 500 { "Receiver" } else { "Sender" };
            match protocol {
                Protocol::Query => {
                    // https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#operation-error-serialization
                    builder = builder.header("content-type", "text/xml");
                    let xmlns = match service {
                        Service::Sts => " xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"".to_string(),
                        Service::CloudWatch => format!(" xmlns=\"{}\"", cloudwatch::wire::XMLNS),
                        _ => String::new(),
                    };
                    let xml = format!(
                        "<ErrorResponse{xmlns}>\n  <Error>\n    <Type>{fault}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
                        sts::xml_escape(e.code),
                        sts::xml_escape(&e.message),
                        sts::xml_escape(request_id)
                    );
                    (e.status, xml.into_bytes())
                }
                Protocol::Cbor => {
                    // CloudWatch is awsQueryCompatible: the SDK takes the
                    // code from x-amzn-query-error, __type is the shape id.
                    builder = builder
                        .header("content-type", "application/cbor")
                        .header("smithy-protocol", "rpc-v2-cbor")
                        .header("x-amzn-query-error", format!("{};{fault}", e.code));
                    let value = ciborium::Value::Map(vec![
                        (
                            ciborium::Value::Text("__type".into()),
                            ciborium::Value::Text(format!("com.amazonaws.cloudwatch#{}", e.code)),
                        ),
                        (ciborium::Value::Text("message".into()), ciborium::Value::Text(e.message)),
                    ]);
                    (e.status, cloudwatch::encode(&value))
                }
                Protocol::Json10 => {
                    // awsJson1_0: `__type` is the error's full shape id; the
                    // awsQueryCompatible trait adds `x-amzn-query-error:
                    // Code;Fault` with the AWS Query code
                    // (https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html).
                    builder = builder
                        .header("content-type", "application/x-amz-json-1.0")
                        .header("x-amzn-query-error", format!("{};{fault}", e.code));
                    let json =
                        serde_json::json!({ "__type": cloudwatch::wire::error_type(e.code), "message": e.message });
                    (e.status, json.to_string().into_bytes())
                }
                Protocol::RestJson => {
                    // restJson1: the error's name in `x-amzn-ErrorType`
                    // (OAM's error shapes bind `amznErrorType` to it, in
                    // botocore's model) and the message in the body
                    // (https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization).
                    builder = builder.header("content-type", "application/json").header("x-amzn-errortype", e.code);
                    let json = serde_json::json!({ "message": e.message });
                    (e.status, json.to_string().into_bytes())
                }
                Protocol::Json => {
                    builder =
                        builder.header("content-type", "application/x-amz-json-1.1").header("x-amzn-errortype", e.code);
                    let mut json = serde_json::json!({ "__type": e.code, "message": e.message });
                    for (name, value) in e.fields {
                        json[name] = serde_json::Value::String(value);
                    }
                    (e.status, json.to_string().into_bytes())
                }
            }
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    builder.status(status).body(Full::new(Bytes::from(body))).unwrap_or_else(|_| {
        // Only reachable with an invalid header value, which the values
        // above cannot produce; answer something well-formed anyway.
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// The body of an AWS JSON 1.1 request: a JSON object (an empty body is
/// `{}`), or the protocol's SerializationException.
pub(crate) fn json_input(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let input: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::new(400, "SerializationException", format!("invalid JSON body: {e}")))?
    };
    if !input.is_object() {
        return Err(ApiError::new(400, "SerializationException", "request body must be a JSON object"));
    }
    Ok(input)
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn requests_route_by_signing_service_and_shape() {
        let cbor = "/service/GraniteServiceVersion20100801/operation/GetMetricData";
        let r = route(cbor, None, Some("rpc-v2-cbor"), Some("monitoring"));
        assert_eq!(
            (r.protocol, r.service, r.operation.as_str()),
            (Protocol::Cbor, Service::CloudWatch, "GetMetricData")
        );
        // Unsigned requests route by their shape alone, as before.
        assert_eq!(route(cbor, None, None, None).service, Service::CloudWatch);
        assert_eq!(route("/", None, None, None).service, Service::Sts);

        let r = route("/", Some("GraniteServiceVersion20100801.DescribeAlarms"), None, Some("monitoring"));
        assert_eq!(
            (r.protocol, r.service, r.operation.as_str()),
            (Protocol::Json10, Service::CloudWatch, "DescribeAlarms")
        );
        let r = route("/", Some("Logs_20140328.StartQuery"), None, Some("logs"));
        assert_eq!((r.protocol, r.service), (Protocol::Json, Service::Logs));

        // A form is CloudWatch's when signed for monitoring, STS's when for sts.
        assert_eq!(route("/", None, None, Some("monitoring")).service, Service::CloudWatch);
        assert_eq!(route("/", None, None, Some("sts")).service, Service::Sts);
        assert_eq!(route("/", None, None, Some("execute-api")).service, Service::Sts);
        // A protocol the signed-for service does not speak, or another
        // service's target: that endpoint knows no such operation.
        let r = route("/", None, None, Some("logs"));
        assert_eq!((r.protocol, r.service), (Protocol::Query, Service::Unknown));
        let r = route("/", Some("Logs_20140328.StartQuery"), None, Some("monitoring"));
        assert_eq!((r.protocol, r.service), (Protocol::Json, Service::Unknown));
        assert_eq!(route(cbor, None, None, Some("sts")).service, Service::Unknown);

        // OAM speaks restJson1: the operation is the path.
        let r = route("/ListAttachedLinks", None, None, Some("oam"));
        assert_eq!(
            (r.protocol, r.service, r.operation.as_str()),
            (Protocol::RestJson, Service::Oam, "ListAttachedLinks")
        );
        assert_eq!(route("/tags/arn:aws:oam:x", None, None, Some("oam")).operation, "");
        assert_eq!(route("/ListSinks", None, None, Some("sts")).protocol, Protocol::Query);
    }

    #[test]
    fn unknown_operations_name_the_service_version_in_aws_query() {
        let e = unknown_operation(Protocol::Query, Service::CloudWatch, "PutMetricData");
        assert_eq!(e.message, "Could not find operation PutMetricData for version 2010-08-01");
        let e = unknown_operation(Protocol::Query, Service::Sts, "X");
        assert_eq!(e.message, "Could not find operation X for version 2011-06-15");
    }
}
