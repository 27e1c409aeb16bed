//! The HTTP layer of Impulse, shared by the MM7 client (SubmitReq to the MMSC), the MM7
//! listener, the admin API and the MMSC simulator: a pooled keep-alive client with a response
//! timer, and an HTTP/1.1 server loop with limits on body size, time and connections. hyper
//! does the HTTP; this knows nothing of MM7 or of Impulse's configuration (the caller passes
//! the limits, the connection slots and what answers the requests).
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client keeping idle connections for `idle` (MM7_Inactivity_Timer / idle_timeout). It
/// speaks plain HTTP to `http://` URLs and TLS, as `tls` says, to `https://` ones.
pub fn client(idle: Duration, tls: &rustls::ClientConfig) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(30)));
    connector.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(idle)
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// An answer to a POST.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Why a POST got no answer; every one of them is temporary for the message.
#[derive(Debug)]
pub enum PostError {
    Timeout,
    /// No connection to the server (refused, unreachable, TLS handshake): nothing was sent.
    Connect(String),
    Http(String),
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Timeout => f.write_str("no response within MM7_Response_Timer"),
            PostError::Http(e) | PostError::Connect(e) => f.write_str(e),
        }
    }
}

/// `user:password` → the value of an Authorization header.
pub fn basic_auth(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

pub struct Post<'a> {
    pub url: &'a str,
    /// The Host header (http_host), when it differs from the URL's.
    pub host: Option<&'a str>,
    pub content_type: &'a str,
    pub authorization: Option<&'a str>,
    pub http10: bool,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// POSTs and reads the whole answer (at most `MAX_ANSWER` bytes), within `timeout`.
pub async fn post(client: &HttpClient, p: Post<'_>) -> Result<Answer, PostError> {
    let mut req = Request::post(p.url)
        .header("Content-Type", p.content_type)
        .header("SOAPAction", "\"\"");
    if let Some(h) = p.host {
        req = req.header("Host", h);
    }
    if let Some(a) = p.authorization {
        req = req.header("Authorization", a);
    }
    if p.http10 {
        req = req.version(hyper::Version::HTTP_10);
    }
    let req = req
        .body(Full::new(Bytes::from(p.body)))
        .map_err(|e| PostError::Http(format!("bad request: {e}")))?;
    let work = async {
        let resp = client.request(req).await.map_err(|e| {
            let text = format!("HTTP: {}", error_chain(&e));
            if e.is_connect() {
                PostError::Connect(text)
            } else {
                PostError::Http(text)
            }
        })?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| PostError::Http(format!("HTTP body: {e}")))?
            .to_bytes();
        Ok(Answer {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(p.timeout, work)
        .await
        .map_err(|_| PostError::Timeout)?
}

/// The biggest answer read from a peer (an MM7 response is a few hundred bytes).
const MAX_ANSWER: usize = 1 << 20;

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// A request as the handlers see it: already read in full.
pub struct HttpRequest {
    /// The listener's address the request came in on.
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub method: hyper::Method,
    pub path: String,
    pub content_type: Option<String>,
    pub body: Bytes,
}

pub type Reply = Response<Full<Bytes>>;

pub fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Full::new(body.into()))
        .expect("static headers are valid")
}

/// What a server run by [`serve`] does with requests.
pub trait Service: Send + Sync + 'static {
    /// Decides on a request from `peer` to `local` before its body is read (peer rules,
    /// credentials): `Some` is the answer, sent after the delay it comes with (a guessing
    /// client is slowed), and the body is not read.
    fn admit(
        &self,
        local: SocketAddr,
        peer: SocketAddr,
        authorization: Option<&str>,
    ) -> Option<(Reply, Duration)> {
        let _ = (local, peer, authorization);
        None
    }

    /// Answers an admitted request, read in full.
    fn call(&self, req: HttpRequest) -> impl Future<Output = Reply> + Send;

    /// The TLS configuration of the listening address `local`, when it serves HTTPS.
    fn tls(&self, local: SocketAddr) -> Option<Arc<rustls::ServerConfig>> {
        let _ = local;
        None
    }
}

/// Longest a client may take over the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What an HTTP listener allows one client: the sizes, counts and times a peer controls.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Largest request body (beyond: 413).
    pub max_body: usize,
    /// Connections open at once (beyond: 503 and close).
    pub max_connections: usize,
    /// Longest wait for a request's head, and for its whole body (beyond: the connection is
    /// closed, or 408).
    pub read_timeout: Duration,
}

impl HttpLimits {
    /// A body limit with the defaults for the rest: 1000 connections, 60 s to send a request.
    pub fn with_max_body(max_body: usize) -> Self {
        HttpLimits {
            max_body,
            max_connections: 1000,
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves HTTP/1.1 on `listener`, configured as `listen`, until `stop` turns true. Each request
/// is first put to [`Service::admit`]; its body is then read in full up to `limits.max_body`
/// bytes (beyond: 413) and handed to [`Service::call`]. The service is told `listen` as the
/// request's local address: the configured one names its scope even for a wildcard or port 0.
/// A connection takes one of `slots` (its permits are `limits.max_connections`; the caller
/// may watch them) or gets 503.
pub async fn serve<S: Service>(
    listener: TcpListener,
    listen: SocketAddr,
    limits: HttpLimits,
    slots: Arc<Semaphore>,
    service: Arc<S>,
    mut stop: watch::Receiver<bool>,
) {
    let local = listen;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Over the limit: a 503 in the listener's own terms. On an HTTPS listener that
            // would take a TLS handshake, which is what the limit saves: the connection is
            // closed instead (a client sees a reset, never clear text where it expects TLS).
            if service.tls(local).is_some() {
                tracing::debug!(%peer, "HTTPS connection over Max_Connections closed");
                drop(stream);
                continue;
            }
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut s = stream;
                let _ = s
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
            continue;
        };
        let service = service.clone();
        let conn_stop = stop.clone();
        // The slot is held by the connection and by every request handler it started, which
        // may outlive it (see `handle`): a client that posts and leaves still counts.
        let permit = Arc::new(permit);
        match service.tls(local) {
            None => {
                tokio::spawn(async move {
                    connection(stream, local, peer, limits, service, conn_stop, permit).await;
                });
            }
            Some(tls) => {
                tokio::spawn(async move {
                    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
                        Ok(Ok(tls)) => {
                            connection(tls, local, peer, limits, service, conn_stop, permit).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// Serves one HTTP/1.1 connection, plain or TLS, until the client leaves or `stop` turns true.
async fn connection<S: Service, IO>(
    stream: IO,
    local: SocketAddr,
    peer: SocketAddr,
    limits: HttpLimits,
    service: Arc<S>,
    mut conn_stop: watch::Receiver<bool>,
    slot: Arc<tokio::sync::OwnedSemaphorePermit>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (service, slot) = (service.clone(), slot.clone());
        async move { Ok::<_, Infallible>(handle(req, local, peer, limits, service, slot).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // A client that never finishes its request head is dropped (slowloris).
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        // A client may shut down its sending side once the request is sent (an MMSC that
        // half-closes after its DeliverReq): the answer is still written.
        .half_close(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        }
        _ = conn_stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn handle<S: Service>(
    req: Request<Incoming>,
    local: SocketAddr,
    peer: SocketAddr,
    limits: HttpLimits,
    service: Arc<S>,
    slot: Arc<tokio::sync::OwnedSemaphorePermit>,
) -> Reply {
    let max_body = limits.max_body;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let authorization = header("authorization");
    if let Some((refused, delay)) = service.admit(local, peer, authorization.as_deref()) {
        tokio::time::sleep(delay).await;
        return refused;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let read = tokio::time::timeout(
        limits.read_timeout,
        Limited::new(req.into_body(), max_body).collect(),
    );
    let Ok(collected) = read.await else {
        return reply(
            StatusCode::REQUEST_TIMEOUT,
            "text/plain",
            "request body not received in time\n",
        );
    };
    let body = match collected {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_big = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return if too_big {
                reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain",
                    format!("request body larger than {max_body} bytes\n"),
                )
            } else {
                reply(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "unreadable request body\n",
                )
            };
        }
    };
    let req = HttpRequest {
        local,
        peer,
        method,
        path,
        content_type,
        body,
    };
    // In a task of its own: a request read in full is handled to the end (spooled, logged)
    // even if the client goes away before the answer, which it may then ask again for.
    let handling = tokio::spawn(async move {
        let answer = service.call(req).await;
        drop(slot);
        answer
    });
    handling.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an HTTP request handler failed");
        reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "internal error\n",
        )
    })
}
