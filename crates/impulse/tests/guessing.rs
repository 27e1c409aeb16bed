//! Password guessing is slowed, then stopped, per client address, on the MM7 listener's HTTP
//! Basic, the admin HTTP listener and the console's login; unauthenticated console connections
//! are capped and timed out (issue #9). Each guessing run sends 200 wrong passwords, as the
//! issue's probe did, then the right one.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Impulse, connect_from, http_request, wait_for};

struct Setup {
    _tmp: tempfile::TempDir,
    _imp: Impulse,
    http: u16,
    admin: u16,
    console: u16,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let conf = "Spoolbase = \"{SPOOL}\"\nESMTP_Listener { Listen \"127.0.0.1:{SMTP_PORT}\" { } }\n\
         HTTP_Listener { Listen \"127.0.0.1:{HTTP_PORT}\" { } Auth_Credentials = ( \"mmsc:s3cret\" ) }\n\
         mm7_serv { mm7_vasp_uri_paths = (\"/mm7/\") }\n\
         Control_Listener {\n  Auth_Credentials = ( \"ops:s3cret\" )\n  Listen \"127.0.0.1:{CONSOLE_PORT}\" { }\n  \
           Listen \"http://127.0.0.1:{ADMIN_PORT}\" { }\n}\n\
         domain \"example.com\" { }\n";
    let imp = Impulse::start(tmp.path(), conf);
    let (http, admin, console) = (imp.http_port, imp.admin_port, imp.console_port);
    Setup {
        _tmp: tmp,
        _imp: imp,
        http,
        admin,
        console,
    }
}

/// `Authorization: Basic …` for `user:password`.
fn basic(credentials: &str) -> String {
    use base64::Engine;
    format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// 200 wrong passwords, then the right one, through `attempt` (which returns the HTTP status or
/// the console's answer). Returns the time the 200 took, the status of the 4th to 10th wrong
/// ones' answers' delay, and the answer to the right password.
fn guess<T: std::fmt::Debug>(mut attempt: impl FnMut(bool) -> T) -> (Duration, Duration, T) {
    let start = Instant::now();
    let mut slowed = Duration::ZERO;
    for i in 0..200 {
        let t = Instant::now();
        attempt(false);
        if (3..10).contains(&i) {
            slowed += t.elapsed();
        }
    }
    let took = start.elapsed();
    (took, slowed, attempt(true))
}

#[test]
fn guessing_is_slowed_then_locked_out_on_every_credential_check() {
    let s = setup();
    // MM7 HTTP Basic: a client that asks without credentials first is not counted.
    let (code, _, _) = http_request("127.0.0.1", s.http, "/mm7/", &[], "text/xml", b"<x/>");
    assert_eq!(code, 401);
    let (took, slowed, right) = guess(|ok| {
        let auth = basic(if ok { "mmsc:s3cret" } else { "mmsc:guess" });
        http_request("127.0.0.1", s.http, "/mm7/", &[&auth], "text/xml", b"<x/>").0
    });
    eprintln!(
        "MM7: 200 wrong passwords in {took:?}; failures 4-10 took {slowed:?}; right password then: {right}"
    );
    assert!(
        slowed >= Duration::from_secs(6),
        "failures past the free ones are slowed: {slowed:?}"
    );
    assert_eq!(
        right, 429,
        "locked out: even the right password is refused for a while"
    );

    // The admin HTTP listener, from another address (the guard is per address).
    let (took, slowed, right) = guess(|ok| {
        let auth = basic(if ok { "ops:s3cret" } else { "ops:guess" });
        http_request(
            "127.0.0.2",
            s.admin,
            "/api/status",
            &[&auth],
            "text/plain",
            b"",
        )
        .0
    });
    eprintln!(
        "admin: 200 wrong passwords in {took:?}; failures 4-10 took {slowed:?}; right password then: {right}"
    );
    assert!(slowed >= Duration::from_secs(6), "{slowed:?}");
    assert_eq!(right, 429);
    // Another address is still admitted (the admin API only reads, hence 405 to a POST).
    let auth = basic("ops:s3cret");
    let (code, _, _) = http_request(
        "127.0.0.4",
        s.admin,
        "/api/status",
        &[&auth],
        "text/plain",
        b"",
    );
    assert_eq!(code, 405);

    // The console, from a third address.
    let console_login = |password: &str| -> String {
        let mut stream = connect_from("127.0.0.3", s.console);
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        writeln!(stream, "login ops {password}").unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    let (took, slowed, right) = guess(|ok| console_login(if ok { "s3cret" } else { "guess" }));
    eprintln!(
        "console: 200 wrong passwords in {took:?}; failures 4-10 took {slowed:?}; right password then: {right:?}"
    );
    assert!(slowed >= Duration::from_secs(6), "{slowed:?}");
    assert!(right.contains("too many failed logins"), "{right}");
}

#[test]
fn console_connections_are_capped_and_must_log_in_in_time() {
    let s = setup();
    // 40 idle connections: past the cap of 32, each is refused at once with a framed error.
    // The listeners' readiness probes have come and gone: a whole session after them.
    let mut c = TcpStream::connect(("127.0.0.1", s.console)).unwrap();
    writeln!(c, "login ops s3cret\nquit").unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("bye"), "{answer}");
    let mut idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(("127.0.0.1", s.console)).unwrap())
        .collect();
    let mut refused = 0;
    for c in &mut idle {
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut first = String::new();
        let _ = BufReader::new(c.try_clone().unwrap()).read_line(&mut first);
        if first.contains("too many console connections") {
            refused += 1;
        }
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    assert_eq!(refused, 8, "32 console connections at most");
    // Each idle connection is closed by the login timeout, which frees the slots.
    let start = Instant::now();
    let mut first = idle.remove(0);
    let mut answer = String::new();
    first.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("login timed out"), "{answer}");
    eprintln!(
        "an idle console connection was closed after {:?}",
        start.elapsed()
    );
    drop(idle);
    wait_for("a console slot", Duration::from_secs(20), || {
        let mut c = TcpStream::connect(("127.0.0.1", s.console)).unwrap();
        writeln!(c, "login ops s3cret").unwrap();
        let mut line = String::new();
        let _ = BufReader::new(c).read_line(&mut line);
        line.contains("logged in")
    });
}
