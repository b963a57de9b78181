//! HTTP plumbing for serve: logs, signals, bodies and responses.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::{BODY_WAIT, MAX_BODY};

pub type Reply = Response<Full<Bytes>>;

/// Resolves with the name of the first SIGINT or SIGTERM.
pub fn stop_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Why a body could not be read.
pub enum BodyError {
    TooLarge,
    TooSlow,
    Broken,
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken => StatusCode::BAD_REQUEST,
        }
    }

    pub fn message(&self) -> String {
        match self {
            BodyError::TooLarge => format!("the request body is larger than {MAX_BODY} bytes"),
            BodyError::TooSlow => format!(
                "the request body did not arrive within {} s",
                BODY_WAIT.as_secs()
            ),
            BodyError::Broken => "the request body could not be read".into(),
        }
    }
}

/// The whole body, at most [`MAX_BODY`] bytes, within [`BODY_WAIT`].
pub async fn body(req: Request<Incoming>) -> Result<Bytes, BodyError> {
    body_up_to(req, MAX_BODY).await
}

/// The whole body, at most `max` bytes, within [`BODY_WAIT`].
pub async fn body_up_to(req: Request<Incoming>, max: usize) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let limited = Limited::new(req.into_body(), max);
    match tokio::time::timeout(BODY_WAIT, limited.collect()).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Ok(Err(_)) => Err(BodyError::Broken),
    }
}

/// Whether the request says its body is JSON (or says nothing).
pub fn json_or_unlabelled<T>(req: &Request<T>) -> bool {
    match req.headers().get(CONTENT_TYPE).map(HeaderValue::to_str) {
        None => true,
        Some(Ok(v)) => v
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")),
        Some(Err(_)) => false,
    }
}

pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Reply {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

pub fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = status;
    reply
}

/// keyward's error shape: `{"error":{"code","message"}}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    json(
        status,
        &serde_json::json!({"error": {"code": code, "message": message}}),
    )
}
