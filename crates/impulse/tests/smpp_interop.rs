//! SMPP interoperability with peers nobody here wrote: Python's smpplib as an ESME against
//! `impulse sim smsc`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Proc, free_port, impulse_bin, repo_root, wait_for};

struct Sim {
    smpp: u16,
    control: u16,
    _proc: Proc,
}

fn start_sim(extra: &[&str]) -> Sim {
    let (smpp, control) = (free_port(), free_port());
    let child = Command::new(impulse_bin())
        .args([
            "sim",
            "smsc",
            "--listen",
            &format!("127.0.0.1:{smpp}"),
            "--control",
            &format!("127.0.0.1:{control}"),
            "--receipt-delay-ms",
            "20",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(child);
    wait_for("simulator", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", control)).is_ok()
    });
    Sim {
        smpp,
        control,
        _proc: proc,
    }
}

fn control(port: u16, cmd: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("{cmd}\n").as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut out = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if cmd.starts_with("list") && line.trim_end() != "." {
            out.push_str(&line);
            continue;
        }
        if !cmd.starts_with("list") {
            out = line;
        }
        return out;
    }
}

fn smpplib(port: u16, bind: &str, user: &str, pass: &str) -> String {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/peers/smpplib_esme.py"))
        .args(["127.0.0.1", &port.to_string(), bind, user, pass])
        .output()
        .expect("python3 with smpplib (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "smpplib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
        + key.len()
        + 4;
    let rest = &json[at..];
    &rest[..rest.find([',', '}']).unwrap()]
}

#[test]
fn smpplib_esme_against_the_simulator() {
    let sim = start_sim(&["--credentials", "pyesme:pw"]);
    let out = smpplib(sim.smpp, "transceiver", "pyesme", "pw");
    assert_eq!(field(&out, "bind"), "0", "{out}");
    let sent: usize = field(&out, "sent").parse().unwrap();
    assert!(sent >= 4, "short, long in segments, UCS-2: {out}");
    // Every submit answered OK with a message id, every one receipted with that id.
    assert_eq!(out.matches("\"status\": 0").count(), sent, "{out}");
    for id in out
        .split("\"message_id\": \"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
    {
        assert!(
            out.contains(&format!("\"receipted_message_id\": \"{id}\"")),
            "receipt for {id} missing: {out}"
        );
    }
    assert!(out.contains("stat:DELIVRD"), "{out}");
    assert_eq!(field(&out, "enquire_link"), "true");
    assert_eq!(field(&out, "unbind"), "true");
    // What the simulator recorded, through its control port.
    let listed = control(sim.control, "list 100");
    assert!(
        listed.contains("\tpyesme\tsmpplib\t4445551234\t0\tHello from smpplib"),
        "{listed}"
    );
    assert!(
        listed.contains("\t8\tПривет, мир"),
        "UCS-2 decoded: {listed}"
    );
    assert!(listed.contains("Long message. Long message."), "{listed}");
    assert!(control(sim.control, "stats").starts_with(&format!("submits={sent} receipts={sent}")));
}

#[test]
fn smpplib_binds_every_type_and_bad_credentials_are_refused() {
    let sim = start_sim(&["--credentials", "pyesme:pw"]);
    for bind in ["transmitter", "receiver"] {
        let out = smpplib(sim.smpp, bind, "pyesme", "pw");
        assert_eq!(field(&out, "bind"), "0", "{bind}: {out}");
        assert_eq!(field(&out, "unbind"), "true");
    }
    let out = smpplib(sim.smpp, "transceiver", "pyesme", "wrong");
    assert_ne!(field(&out, "bind"), "0", "{out}");
}
