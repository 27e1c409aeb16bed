//! `impulse demo`: email → SMS → receipt → SMS reply → email, then email with a picture → MMS
//! and an MMS from a handset → email, with nothing to set up. Everything runs in this process
//! on 127.0.0.1: the SMSC and MMSC simulators, a mail sink (Impulse's own SMTP listener keeping
//! what it gets in memory), and Impulse with an embedded configuration.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use impulse_sim::smsc::{SimConfig, Smsc};
use impulse_smtp::inbound::{Envelope, Inbound, Limits};
use impulse_smtp::outbound::Connection;
use tokio::net::TcpListener;

use crate::serve;
use impulse_sim::mmsc::{Mmsc, MmscConfig};

/// A 1×1 GIF: the demo's picture.
const PICTURE: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// A mail server that accepts anything and keeps it.
#[derive(Default)]
struct MailSink {
    got: Mutex<Vec<(Envelope, Vec<u8>)>>,
}

impl Inbound for MailSink {
    fn limits(&self, _: SocketAddr, _: SocketAddr) -> (Limits, Duration) {
        let limits = Limits {
            relay_any: true,
            max_recipients: 100,
            ..Limits::plain("mail.example.org")
        };
        (limits, Duration::from_secs(60))
    }
    fn recipient(&self, _: &impulse_smtp::Address) -> impulse_smtp::inbound::Recipient {
        impulse_smtp::inbound::Recipient::Ours
    }
    async fn accept(&self, _: SocketAddr, env: Envelope, body: Vec<u8>) -> Result<String, String> {
        let mut got = self.got.lock().map_err(|e| e.to_string())?;
        got.push((env, body));
        Ok(format!("sink-{}", got.len()))
    }
}

async fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > Duration::from_secs(20) {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends `mail` from alice@example.org to `to` over SMTP and shows Impulse's answer.
async fn send_mail(impulse: SocketAddr, to: &str, mail: &str) -> anyhow::Result<()> {
    let mut client = Connection::connect(&[impulse], None, "alice-laptop", Duration::from_secs(10))
        .await
        .map_err(|e| anyhow::anyhow!("SMTP connect: {}", e.response()))?;
    let replies = client
        .send(
            &Some(impulse_smtp::Address::parse("alice@example.org")?),
            &[impulse_smtp::Address::parse(to)?],
            mail.as_bytes(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("SMTP: {}", e.response()))?;
    client.quit().await;
    println!("   Impulse: {}\n", replies[0].0);
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    | {l}\n")).collect()
}

pub fn run() -> ExitCode {
    crate::block_on("impulse demo", async {
        match demo().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("impulse demo failed: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn demo() -> anyhow::Result<()> {
    println!("Impulse demo: email -> SMS -> delivery receipt -> SMS reply -> email,");
    println!("             email with a picture -> MMS, MMS from a handset -> email");
    println!("Everything runs in this process, on 127.0.0.1 only.\n");

    let sim = Smsc::start(
        "127.0.0.1:0",
        SimConfig {
            credentials: vec![("demo".into(), "demo".into())],
            receipt_delay: Duration::from_millis(200),
            receipt_delivered_percent: 100,
            receipts_first: false,
            mo_window: 0,
            keep: 0,
        },
    )
    .await?;
    let sink = Arc::new(MailSink::default());
    let sink_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sink_addr = sink_listener.local_addr()?;
    let (_sink_stop, sink_stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(impulse_smtp::inbound::serve(
        sink_listener,
        sink.clone(),
        100,
        sink_stop_rx,
    ));
    let smtp_port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let http_port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let dir = std::env::temp_dir().join(format!("impulse-demo-{}", std::process::id()));
    let (mmsc, mmsc_addr) = Mmsc::start(&MmscConfig {
        listen: "127.0.0.1:0".into(),
        dump: Some(dir.join("mmsc")),
        credentials: None,
        vasp_credentials: None,
        schema: impulse_mm7::Schema::Rel6_1_4,
        tls_cert: None,
        tls_key: None,
    })
    .await?;
    let config = [
        "# The demo's configuration (Momentum syntax)".to_string(),
        format!("Spoolbase = \"{}\"", dir.join("spool").display()),
        "Hostname = \"impulse.demo\"".into(),
        format!("ESMTP_Listener {{ Listen \"127.0.0.1:{smtp_port}\" {{ }} }}"),
        format!("Gateway = \"{sink_addr}\"    # all other mail goes to the demo's mail sink"),
        "domain \"sms.example.com\" {".into(),
        "  SMPP_SMSC_Server = \"127.0.0.1\"".into(),
        format!("  SMPP_SMSC_Port = {}", sim.addr.port()),
        "  SMPP_SMSC_System_ID = \"demo\"".into(),
        "  SMPP_SMSC_Password = \"demo\"".into(),
        "  SMPP_ESME_Address = \"12345\"".into(),
        "  SMPP_Max_Sms_From_Size = 20".into(),
        "  SMPP_Max_Sms_Subject_Size = 20".into(),
        "  SMPP_Registered_Delivery = ( \"SMSC_Delivery\" )".into(),
        "  SMPP_Sms_Trim_Replies = true    # the new text of a reply, not the quote".into(),
        "  SMPP_Persistent_Connections = [ default = 1 ]    # a bind kept open for replies".into(),
        "}".into(),
        "domain \"mms.example.com\" {".into(),
        "  MM7_MMSC_Server = \"127.0.0.1\"".into(),
        format!("  MM7_MMSC_Port = {}", mmsc_addr.port()),
        "  MM7_MMSC_Path = \"/mm7\"".into(),
        "  MM7_Sender_Address = \"<ShortCode>12345</ShortCode>\"".into(),
        "}".into(),
        format!(
            "HTTP_Listener {{ Listen \"127.0.0.1:{http_port}\" {{ }} }}    # MM7 from the MMSC"
        ),
        "mm7_serv {".into(),
        "  mm7_vasp_uri_paths = ( \"/mm7/\" )".into(),
        "  mm7_server_default_email_from_domain = \"mms.example.com\"".into(),
        "  mm7_server_default_email_to_address = \"alice@example.org\"".into(),
        "}".into(),
    ]
    .join("\n");
    println!("Configuration:\n{}", indent(&config));
    let cfg = impulse_config::from_str(&dir.join("demo.conf"), &config).map_err(|diags| {
        anyhow::anyhow!(
            diags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let running = serve::start(Arc::new(cfg), None).await?;
    let impulse_addr: SocketAddr = ([127, 0, 0, 1], smtp_port).into();
    wait("the SMPP bind", || {
        (sim.bound_sessions() >= 1).then_some(())
    })
    .await?;

    // 1. An email to an SMS number.
    let mail = "From: Alice <alice@example.org>\r\nTo: 4445551234@sms.example.com\r\nSubject: Dinner tonight?\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAre we still on for 7pm? Bring the €20 you owe me :)\r\n\r\nSent from my iPhone\r\n\r\nOn Mon, Bob <bob@example.org> wrote:\r\n> Dinner at Luigi\u{2019}s tonight?\r\n";
    println!(
        "1. alice@example.org sends this email over SMTP to Impulse ({impulse_addr}):\n{}",
        indent(mail)
    );
    send_mail(impulse_addr, "4445551234@sms.example.com", mail).await?;

    // 2. The SMS at the SMSC.
    let sms = wait("the SMS at the SMSC", || sim.received().into_iter().next()).await?;
    println!("2. The SMSC receives a submit_sm:");
    println!(
        "    | from {} to {}, data_coding {} (GSM 03.38), message id {}",
        sms.source, sms.dest, sms.data_coding, sms.message_id
    );
    println!("    | text: {}", sms.text());
    println!("    (the quote and \"Sent from my iPhone\" were trimmed: SMPP_Sms_Trim_Replies)\n");

    // 3. The delivery receipt.
    wait("the delivery receipt", || {
        (sim.receipts_sent() >= 1).then_some(())
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "3. The SMSC sends a delivery receipt for message {} (stat:DELIVRD). Impulse matches",
        sms.message_id
    );
    println!("   it to the SMS it submitted and logs it; with SMPP_Notify_Deliver_Receipt set it");
    println!("   would also mail alice (a failed delivery always does).\n");

    // 4. An SMS reply, answered through the reverse address mapping.
    let reply = "Yes! See you at 7. Keep the 20.";
    println!(
        "4. The handset 4445551234 replies to 12345 with a plain SMS (no address in it):\n    | {reply}"
    );
    println!(
        "   Impulse remembered that 12345 last texted 4445551234 for alice@example.org\n   (a reverse address mapping, kept in its spool).\n"
    );
    let septets = impulse_smpp::text::gsm::encode_unpacked(reply).unwrap_or_default();
    if !sim.inject_mo("4445551234", "12345", 0, 0, &septets, vec![]) {
        anyhow::bail!("no bind to deliver the reply on");
    }
    let (env, body) = wait("the reply as email", || {
        sink.got.lock().ok().and_then(|g| g.first().cloned())
    })
    .await?;
    println!(
        "5. Alice's mail server receives it as an email (envelope {} -> {}):",
        impulse_smtp::address::reverse_path_text(&env.sender),
        env.recipients
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let text = String::from_utf8_lossy(&body);
    let shown: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("Received:")
                && !l.starts_with('\t')
                && !l.starts_with("Message-ID")
                && !l.starts_with("MIME-Version")
        })
        .collect::<Vec<_>>()
        .join("\n");
    println!("{}", indent(&shown));

    mms(impulse_addr, &mmsc, &dir, http_port, &sink).await?;

    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "Done. Try it yourself: `impulse sim smsc --listen 127.0.0.1:2775 --control 127.0.0.1:2776`"
    );
    println!("and `impulse serve -c your.conf` with a domain that sets SMPP_SMSC_Server;");
    println!("`impulse sim mmsc --listen 127.0.0.1:8080` for MMS (a domain with MM7_MMSC_Server).");
    Ok(())
}

/// Steps 6 to 8: a mail with a picture becomes an MM7 SubmitReq at the MMSC, and an MMS from a
/// handset (DeliverReq) becomes a mail with the picture attached.
async fn mms(
    impulse: SocketAddr,
    mmsc: &Mmsc,
    dir: &std::path::Path,
    http_port: u16,
    sink: &MailSink,
) -> anyhow::Result<()> {
    use base64::Engine;
    let picture = base64::engine::general_purpose::STANDARD.encode(PICTURE);
    let mail = format!(
        "From: Alice <alice@example.org>\r\nTo: 4445551234@mms.example.com\r\n\
         Subject: Our table\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis is where we sit.\r\n\
         --b1\r\nContent-Type: image/gif; name=\"table.gif\"\r\n\
         Content-Disposition: attachment; filename=\"table.gif\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{picture}\r\n--b1--\r\n"
    );
    println!(
        "6. alice@example.org mails a picture to an MMS number (mms.example.com is an MM7 domain):"
    );
    println!("{}", indent(&mail));
    send_mail(impulse, "4445551234@mms.example.com", &mail).await?;

    let line = wait("the SubmitReq at the MMSC", || {
        mmsc.received().into_iter().next()
    })
    .await?;
    let id = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("id="))
        .unwrap_or_default()
        .to_string();
    println!("7. The MMSC receives an MM7 SubmitReq (SOAP with attachments over HTTP):");
    println!("    | {line}");
    let dumped = dir.join("mmsc").join(&id);
    let envelope = std::fs::read_to_string(dumped.join("envelope.xml")).unwrap_or_default();
    println!("{}", indent(&envelope));
    let same = std::fs::read_dir(&dumped)
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                e.file_name().to_string_lossy().ends_with("table.gif")
                    && std::fs::read(e.path()).is_ok_and(|b| b == PICTURE)
            })
        })
        .unwrap_or(false);
    println!(
        "   The picture arrived {} ({} bytes), next to the text and a generated SMIL.\n",
        if same {
            "byte for byte"
        } else {
            "CHANGED (a bug!)"
        },
        PICTURE.len()
    );

    println!("8. The handset +14445551234 sends an MMS with a photo to short code 12345;");
    println!("   the MMSC posts it to Impulse's MM7 listener as a DeliverReq.");
    let url = format!("http://127.0.0.1:{http_port}/mm7/inbox");
    let answer = mmsc
        .deliver(
            &url,
            "+14445551234",
            "12345",
            "Photo from the beach",
            Some(("beach.gif".into(), PICTURE.to_vec())),
        )
        .await;
    println!(
        "   Impulse answers with a DeliverRsp: {answer} (1000 = Success, sent once the mail is spooled)\n"
    );
    let (env, body) = wait("the MMS as email", || {
        sink.got.lock().ok().and_then(|g| g.get(1).cloned())
    })
    .await?;
    println!(
        "   Alice's mail server receives it as an email (envelope {} -> {}):",
        impulse_smtp::address::reverse_path_text(&env.sender),
        env.recipients
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let parsed = mail_parser::MessageParser::default().parse(&body);
    if let Some(m) = parsed {
        use mail_parser::MimeHeaders;
        println!(
            "    | From: {}",
            m.from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or("-")
        );
        println!("    | Subject: {}", m.subject().unwrap_or("-"));
        println!("    | Text: {}", m.body_text(0).unwrap_or_default().trim());
        for a in m.attachments() {
            println!(
                "    | Attachment: {} ({}, {} bytes{})",
                a.attachment_name().unwrap_or("-"),
                a.content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                    .unwrap_or_default(),
                a.contents().len(),
                if a.contents() == PICTURE {
                    ", the same picture"
                } else {
                    ""
                }
            );
        }
    }
    println!();
    Ok(())
}
