//! `impulse convert`: what a mail would become on an SMPP domain, without sending it. Reads the
//! mail from a file or standard input, takes the domain's (and binding's) settings from a
//! configuration, and prints each segment's text and octets, the data_coding, the
//! concatenation method, and which characters forced UCS-2: for trying a message before
//! sending it, and for bug reports.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use impulse_interwork::mt;
use impulse_smpp::text::Coding;

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// Configuration file (ecelerity.conf syntax).
    #[arg(short, long, env = "IMPULSE_CONFIG")]
    config: PathBuf,
    /// The SMPP domain the mail is addressed to.
    #[arg(long)]
    domain: String,
    /// The binding it would leave by (default: the domain's own settings).
    #[arg(long)]
    binding: Option<String>,
    /// The envelope sender, used when the mail has no From address.
    #[arg(long, default_value = "")]
    sender: String,
    /// The mail (RFC 5322); standard input when absent or `-`.
    mail: Option<PathBuf>,
}

pub fn run(args: ConvertArgs) -> ExitCode {
    let Some(cfg) = crate::cli::config::load_or_report(&args.config) else {
        return ExitCode::from(crate::cli::config::EXIT_CONFIG);
    };
    if !crate::route::is_smpp_domain(&cfg, &args.domain) {
        eprintln!(
            "{}: `{}` is not an SMPP domain (no SMPP_SMSC_Server in its domain stanza)",
            args.config.display(),
            args.domain
        );
        return ExitCode::from(crate::cli::config::EXIT_CONFIG);
    }
    let raw = match read_mail(args.mail.as_deref()) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("cannot read the mail: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shape = crate::outbound::smpp::mt_shape(&cfg, &args.domain, args.binding.as_deref());
    match mt::convert(&raw, &args.sender, &shape.mt) {
        Ok(sms) => {
            print!("{}", render(&sms, &shape));
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("refused: {}", e.response());
            ExitCode::FAILURE
        }
    }
}

fn read_mail(path: Option<&Path>) -> std::io::Result<Vec<u8>> {
    match path {
        Some(p) if p != Path::new("-") => std::fs::read(p),
        _ => {
            let mut raw = Vec::new();
            std::io::stdin().read_to_end(&mut raw)?;
            Ok(raw)
        }
    }
}

/// The report: a summary, then each segment as it would be submitted.
fn render(sms: &mt::Sms, shape: &crate::outbound::smpp::MtShape) -> String {
    use std::fmt::Write as _;
    let coding = match sms.coding {
        Coding::Gsm7 => "GSM 03.38",
        Coding::Ascii => "IA5/ASCII",
        Coding::Latin1 => "Latin-1",
        Coding::Cyrillic => "ISO-8859-5 (Cyrillic)",
        Coding::Hebrew => "ISO-8859-8 (Hebrew)",
        Coding::Ucs2 => "UCS-2",
    };
    let total = sms.segments.len();
    let method = if shape.data_sm {
        "data_sm, the whole text in message_payload".to_string()
    } else if total == 1 {
        "one submit_sm, no concatenation".to_string()
    } else if shape.mt.udh {
        let width = match shape.refnum_length {
            1 => "8-bit reference",
            2 => "16-bit reference",
            _ => "8- or 16-bit reference, as the message's reference needs",
        };
        format!("UDH in each segment (esm_class 0x40, {width})")
    } else {
        "SAR TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)".to_string()
    };
    let mut out = String::new();
    let _ = writeln!(out, "data_coding: {} ({coding})", sms.data_coding);
    let _ = writeln!(out, "segments: {total}");
    let _ = writeln!(out, "concatenation: {method}");
    let _ = writeln!(
        out,
        "truncated: {}",
        if sms.truncated { "yes" } else { "no" }
    );
    let _ = writeln!(out, "look-alikes replaced: {}", sms.replaced);
    if !sms.ucs2_forced_by.is_empty() {
        let chars: Vec<String> = sms
            .ucs2_forced_by
            .iter()
            .map(|c| format!("{c:?} U+{:04X}", u32::from(*c)))
            .collect();
        let _ = writeln!(out, "UCS-2 because of: {}", chars.join(", "));
    }
    for note in &sms.charset_notes {
        let _ = writeln!(out, "charset: {note}");
    }
    let _ = writeln!(out, "reply address: {}", sms.reply_to);
    let texts = segment_texts(sms);
    for (i, (octets, text)) in sms.segments.iter().zip(&texts).enumerate() {
        let unit = match sms.coding {
            Coding::Gsm7 => "septets",
            Coding::Ucs2 => "octets (UTF-16BE)",
            _ => "octets",
        };
        let _ = writeln!(
            out,
            "--- segment {} of {total}: {} {unit}",
            i + 1,
            octets.len()
        );
        let _ = writeln!(out, "{text}");
    }
    out
}

/// Each segment's text, read back from its octets (what the handset shows).
fn segment_texts(sms: &mt::Sms) -> Vec<String> {
    sms.segments
        .iter()
        .map(|o| impulse_smpp::text::decode(sms.coding.data_coding(), o))
        .collect()
}
