//! An MMSC (MM7 relay/server) for tests, benchmarks and trying Impulse out (`impulse sim mmsc`).
//! It accepts SubmitReq (records it, writes its parts to `--dump DIR` when asked, answers
//! with a SubmitRsp or the fault it was told to inject), and on its control port sends
//! DeliverReq and DeliveryReportReq to a VASP URL.
//!
//! Control commands (one per line, answered with one line, `list` with several and `.`):
//! `stats` (submissions, pending faults, TCP connections seen); `list`; `fail CODE [N]` (SubmitRsp with that status); `http500 [N]` (HTTP 500
//! with an RSErrorRsp fault); `delay MS [N]` (answer late); `garbage [N]` (a body that is not
//! SOAP); `deliver URL FROM TO SUBJECT [FILE]` (a DeliverReq with a text part and, when FILE is
//! given, that file as an image); `report URL MESSAGE_ID RECIPIENT STATUS` (a
//! DeliveryReportReq). Both answer `ok STATUSCODE` or `error REASON`.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::StatusCode as Http;
use impulse_mm7::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use impulse_http::{self as http_server, HttpRequest, Reply, reply};

/// What an MMSC simulator serves and how (the `impulse sim mmsc` options).
#[derive(Clone, Debug)]
pub struct MmscConfig {
    /// Address to serve MM7 on (port 0: any).
    pub listen: String,
    /// Where to write each SubmitReq's parts, if anywhere.
    pub dump: Option<PathBuf>,
    /// `user:password` the VASP must send (HTTP Basic), if any.
    pub credentials: Option<String>,
    /// `user:password` sent with DeliverReq and DeliveryReportReq, if any.
    pub vasp_credentials: Option<String>,
    /// The MM7 schema of what the simulator sends.
    pub schema: Schema,
    /// Certificate and key (PEM) to serve HTTPS with.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone)]
enum Fault {
    Status(u32),
    Http500,
    Delay(u64),
    Garbage,
}

#[derive(Default)]
struct State {
    submits: u64,
    /// Client addresses seen: one per TCP connection (keep-alive reuses one).
    peers: std::collections::HashSet<SocketAddr>,
    received: VecDeque<String>,
    faults: VecDeque<Fault>,
}

/// Submissions kept for `list`.
const KEEP: usize = 10_000;

pub struct Mmsc {
    state: Mutex<State>,
    dump: Option<PathBuf>,
    authorization: Option<String>,
    /// What DeliverReq and DeliveryReportReq carry in `Authorization`.
    vasp_authorization: Option<String>,
    schema: Schema,
    client: http_server::HttpClient,
    /// HTTPS: the server configuration of --tls-cert and --tls-key.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Kept so that the HTTP server runs as long as the simulator.
    _stop: tokio::sync::watch::Sender<bool>,
}

fn soap(status: Http, xml: String) -> Reply {
    reply(status, "text/xml; charset=\"utf-8\"", xml)
}

fn fault(schema: Schema, version: &str, tid: &str, code: StatusCode, text: &str) -> String {
    write_envelope(
        &Envelope::fault(schema, version, tid, Side::Relay, code, text),
        &WriteOptions::default(),
    )
}

impl http_server::Service for Mmsc {
    fn tls(&self, _: SocketAddr) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.clone()
    }

    /// With `--credentials`, a request without them gets a 401 whose Fault says 2001
    /// (operation restricted), as some MMSCs answer.
    fn admit(
        &self,
        _: SocketAddr,
        peer: SocketAddr,
        authorization: Option<&str>,
    ) -> Option<(Reply, std::time::Duration)> {
        if let Ok(mut s) = self.state.lock() {
            s.peers.insert(peer);
        }
        let want = self.authorization.as_deref()?;
        (authorization != Some(want))
            .then(|| {
                soap(
                    Http::UNAUTHORIZED,
                    fault(
                        self.schema,
                        self.schema.newest_version(),
                        "",
                        StatusCode::OPERATION_RESTRICTED,
                        "Operation restricted: bad or missing credentials",
                    ),
                )
            })
            .map(|r| (r, std::time::Duration::ZERO))
    }

    fn call(&self, req: HttpRequest) -> impl Future<Output = Reply> + Send {
        self.on_request(req)
    }
}

impl Mmsc {
    /// Serves MM7 on `args.listen` (control port aside) until the process ends.
    pub async fn start(args: &MmscConfig) -> std::io::Result<(Arc<Mmsc>, SocketAddr)> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let sim = Arc::new(Mmsc {
            state: Mutex::new(State::default()),
            dump: args.dump.clone(),
            authorization: args.credentials.as_deref().map(http_server::basic_auth),
            vasp_authorization: args
                .vasp_credentials
                .as_deref()
                .map(http_server::basic_auth),
            schema: args.schema,
            // A simulator posts to test listeners with made-up certificates: no verification.
            client: http_server::client(
                Duration::from_secs(30),
                &*impulse_tls::client_config(false, None).map_err(std::io::Error::other)?,
            ),
            tls: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => {
                    Some(impulse_tls::server_config(cert, key).map_err(std::io::Error::other)?)
                }
                _ => None,
            },
            _stop: stop_tx,
        });
        let listener = TcpListener::bind(&args.listen).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(http_server::serve(
            listener,
            addr,
            http_server::HttpLimits::with_max_body(64 << 20),
            Arc::new(tokio::sync::Semaphore::new(1000)),
            sim.clone(),
            stop_rx,
        ));
        Ok((sim, addr))
    }

    /// One line per accepted SubmitReq (`id=… to=… subject=… parts=type:size,…`), oldest
    /// first.
    pub fn received(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.received.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends a DeliverReq to the VASP at `url`: a text part and, when given, an image
    /// (`name`, bytes). Answers `ok STATUS http=CODE` or `error REASON`.
    pub async fn deliver(
        &self,
        url: &str,
        from: &str,
        to: &str,
        subject: &str,
        image: Option<(String, Vec<u8>)>,
    ) -> String {
        let mut parts = vec![MimePart {
            content_type: "text/plain".into(),
            charset: Some("utf-8".into()),
            name: Some("text.txt".into()),
            content_id: Some("text.txt".into()),
            data: format!("MMS from {from}").into_bytes(),
            ..Default::default()
        }];
        if let Some((name, data)) = image {
            let content_type = match name.rsplit('.').next() {
                Some("png") => "image/png",
                Some("gif") => "image/gif",
                _ => "image/jpeg",
            };
            parts.push(MimePart {
                content_type: content_type.into(),
                content_id: Some("image1".into()),
                name: Some(name),
                data,
                ..Default::default()
            });
        }
        let env = Envelope {
            transaction_id: format!("sim-{}", now_millis()),
            schema: self.schema,
            version: self.schema.newest_version().into(),
            body: Body::DeliverReq(DeliverReq {
                relay_server_id: Some("impulse-sim-mmsc".into()),
                sender: Some(Address::number(from)),
                recipients: vec![Recipient {
                    kind: RecipientKind::To,
                    address: if to.contains('@') {
                        Address::email(to)
                    } else {
                        Address::short_code(to)
                    },
                }],
                timestamp: Some(
                    jiff::Timestamp::now()
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string(),
                ),
                subject: Some(subject.to_string()),
                content: Some(ContentRef {
                    href: format!("cid:{}", multipart::CONTENT_ID),
                    allow_adaptations: None,
                }),
                ..Default::default()
            }),
        };
        let content = OutContent::Multi { smil: None, parts };
        self.send(url, env, Some(content)).await
    }

    async fn on_request(&self, req: HttpRequest) -> Reply {
        let schema = self.schema;
        let newest = schema.newest_version();
        if req.method != hyper::Method::POST {
            return soap(
                Http::METHOD_NOT_ALLOWED,
                fault(
                    schema,
                    newest,
                    "",
                    StatusCode::CLIENT_ERROR,
                    "MM7 requests are POSTs",
                ),
            );
        }
        let msg = match read_body(req.content_type.as_deref(), &req.body) {
            Ok(m) => m,
            Err(e) => {
                return soap(
                    Http::INTERNAL_SERVER_ERROR,
                    fault(schema, newest, "", e.code, &e.message),
                );
            }
        };
        let env = match read_envelope(&msg.envelope, schema) {
            Ok(e) => e,
            Err(e) => {
                return soap(
                    Http::INTERNAL_SERVER_ERROR,
                    fault(schema, newest, "", e.code, &e.message),
                );
            }
        };
        let version = if env.schema.accepts_version(&env.version) {
            env.version.clone()
        } else {
            env.schema.newest_version().to_string()
        };
        let answer =
            |body: Body| write_envelope(&env.reply(&version, body), &WriteOptions::default());
        let Body::SubmitReq(submit) = &env.body else {
            let ok = Status::new(StatusCode::SUCCESS);
            let body = match &env.body {
                Body::CancelReq(_) => Body::CancelRsp(ok),
                Body::ReplaceReq(_) => Body::ReplaceRsp(ok),
                other => {
                    let text = format!("{} is not a request an MMSC serves", other.name());
                    return soap(
                        Http::INTERNAL_SERVER_ERROR,
                        fault(
                            env.schema,
                            &version,
                            &env.transaction_id,
                            StatusCode::UNSUPPORTED_OPERATION,
                            &text,
                        ),
                    );
                }
            };
            return soap(Http::OK, answer(body));
        };
        let injected = self
            .state
            .lock()
            .map(|mut s| s.faults.pop_front())
            .unwrap_or(None);
        match injected {
            Some(Fault::Http500) => {
                return soap(
                    Http::INTERNAL_SERVER_ERROR,
                    fault(
                        env.schema,
                        &version,
                        &env.transaction_id,
                        StatusCode::SERVER_ERROR,
                        "Server Error",
                    ),
                );
            }
            Some(Fault::Garbage) => return reply(Http::OK, "text/xml", "<<<this is not SOAP"),
            Some(Fault::Delay(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Some(Fault::Status(code)) => {
                let status = Status::new(StatusCode(code));
                return soap(
                    Http::OK,
                    answer(Body::SubmitRsp(SubmitRsp {
                        status,
                        message_id: Some("none".into()),
                    })),
                );
            }
            None => {}
        }
        let n = {
            let mut s = self.state.lock().expect("sim state");
            s.submits += 1;
            s.submits
        };
        let message_id = format!("mmsc-{n:08}");
        let content = msg.content(submit.content.as_ref().map(|c| c.href.as_str()));
        let parts: Vec<&MimePart> = content
            .map(|c| c.parts.iter().collect())
            .unwrap_or_default();
        let rcpts: Vec<String> = submit
            .recipients
            .iter()
            .map(|r| r.address.value.clone())
            .collect();
        let line = format!(
            "id={message_id} tid={} version={} schema={} to={} subject={:?} vasp={} parts={}",
            env.transaction_id,
            env.version,
            env.schema,
            rcpts.join(","),
            submit.subject.as_deref().unwrap_or(""),
            submit.sender.vaspid.as_deref().unwrap_or("-"),
            parts
                .iter()
                .map(|p| format!("{}:{}", p.content_type, p.data.len()))
                .collect::<Vec<_>>()
                .join(",")
        );
        if let Some(dir) = &self.dump {
            let d = dir.join(&message_id);
            let _ = std::fs::create_dir_all(&d);
            let _ = std::fs::write(d.join("envelope.xml"), &msg.envelope);
            for (i, p) in parts.iter().enumerate() {
                let name = p
                    .name
                    .clone()
                    .or(p.content_location.clone())
                    .unwrap_or_else(|| format!("part{i}"));
                let name: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let _ = std::fs::write(d.join(format!("{i}-{name}")), &p.data);
            }
        }
        if let Ok(mut s) = self.state.lock() {
            s.received.push_back(line);
            if s.received.len() > KEEP {
                s.received.pop_front();
            }
        }
        let status = Status::new(StatusCode::SUCCESS);
        soap(
            Http::OK,
            answer(Body::SubmitRsp(SubmitRsp {
                status,
                message_id: Some(message_id),
            })),
        )
    }

    async fn send(&self, url: &str, env: Envelope, content: Option<OutContent>) -> String {
        let xml = write_envelope(&env, &WriteOptions::default());
        let (ctype, body) = write_body(&xml, content.as_ref(), now_millis() as u64);
        let answer = http_server::post(
            &self.client,
            http_server::Post {
                url,
                host: None,
                content_type: &ctype,
                authorization: self.vasp_authorization.as_deref(),
                http10: false,
                body,
                timeout: Duration::from_secs(30),
            },
        )
        .await;
        match answer {
            Ok(a) => {
                let parsed = read_body(a.content_type.as_deref(), &a.body)
                    .and_then(|m| read_envelope(&m.envelope, env.schema));
                match parsed {
                    Ok(e) => match e.body.status() {
                        Some(s) => format!("ok {} http={}", s.code, a.status.as_u16()),
                        None => format!("error {} without a status", e.body.name()),
                    },
                    Err(e) => format!("error http={} {e}", a.status.as_u16()),
                }
            }
            Err(e) => format!("error {e}"),
        }
    }
}

/// Serves the line-based control port on `listener` until the process ends.
pub async fn serve_control(listener: TcpListener, sim: Arc<Mmsc>) {
    while let Ok((stream, _)) = listener.accept().await {
        let sim = sim.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let out = command(&sim, line.trim()).await;
                if w.write_all(out.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn count(arg: Option<&&str>) -> usize {
    arg.and_then(|n| n.parse().ok()).unwrap_or(1)
}

fn push_faults(sim: &Mmsc, f: Fault, n: usize) -> String {
    if let Ok(mut s) = sim.state.lock() {
        for _ in 0..n {
            s.faults.push_back(f.clone());
        }
    }
    "ok\n".into()
}

async fn command(sim: &Mmsc, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let tid = format!("sim-{}", now_millis());
    match words.as_slice() {
        ["stats"] => {
            let s = sim.state.lock().expect("sim state");
            format!(
                "submits={} pending_faults={} connections={}\n",
                s.submits,
                s.faults.len(),
                s.peers.len()
            )
        }
        ["list"] => {
            let s = sim.state.lock().expect("sim state");
            let mut out: String = s.received.iter().map(|l| format!("{l}\n")).collect();
            out.push_str(".\n");
            out
        }
        ["fail", code, rest @ ..] => match code.parse() {
            Ok(c) => push_faults(sim, Fault::Status(c), count(rest.first())),
            Err(_) => "error fail needs a numeric status code\n".into(),
        },
        ["http500", rest @ ..] => push_faults(sim, Fault::Http500, count(rest.first())),
        ["garbage", rest @ ..] => push_faults(sim, Fault::Garbage, count(rest.first())),
        ["delay", ms, rest @ ..] => match ms.parse() {
            Ok(ms) => push_faults(sim, Fault::Delay(ms), count(rest.first())),
            Err(_) => "error delay needs milliseconds\n".into(),
        },
        ["deliver", url, from, to, subject, rest @ ..] => {
            let image = match rest.first() {
                Some(file) => match std::fs::read(file) {
                    Ok(data) => {
                        let name = std::path::Path::new(file)
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_else(|| "image.jpg".into());
                        Some((name, data))
                    }
                    Err(e) => return format!("error cannot read {file}: {e}\n"),
                },
                None => None,
            };
            let subject = subject.replace('_', " ");
            format!("{}\n", sim.deliver(url, from, to, &subject, image).await)
        }
        ["report", url, message_id, recipient, status] => {
            let env = Envelope {
                transaction_id: tid,
                schema: sim.schema,
                version: sim.schema.newest_version().into(),
                body: Body::DeliveryReportReq(DeliveryReportReq {
                    relay_server_id: Some("impulse-sim-mmsc".into()),
                    message_id: message_id.to_string(),
                    recipient: Address::number(*recipient),
                    sender: Address::short_code("0"),
                    date: jiff::Timestamp::now()
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string(),
                    status: MmStatus::parse(status),
                    status_extension: None,
                    status_text: Some(format!("{status} by the simulator")),
                }),
            };
            format!("{}\n", sim.send(url, env, None).await)
        }
        _ => "error unknown command\n".into(),
    }
}

/// Milliseconds since the Unix epoch: transaction ids and MIME boundaries.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
