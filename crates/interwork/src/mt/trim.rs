//! The new text of a reply (`SMPP_Sms_Trim_Replies`): the quoted original, its attribution
//! line, the mobile clients' "Sent from my …" line, the signature and a trailing disclaimer
//! removed, so that an SMS reader gets what the sender wrote. Off by default (Momentum sends
//! the whole text). Rules, in order:
//!
//! 1. Outlook's quoted original has no `>`: everything from an "-----Original Message-----"
//!    line (in the languages Outlook writes it), a line of underscores followed by a `From:`
//!    header block, or a `From:` line followed within four lines by `Sent:`/`Date:` and
//!    `To:`/`Subject:` (or their translations) is cut.
//! 2. An attribution ("On … wrote:", "Le … a écrit :", "Am … schrieb …:", …, on one line or
//!    two): when `>`-quoted lines follow it, it and every quoted line go (the lines between,
//!    an inline reply, stay); when unquoted text follows (a quote whose `>` was lost in the
//!    HTML), everything from it is cut — but only when new text precedes it.
//! 3. Remaining `>`-quoted lines go.
//! 4. A signature separator (`-- `, or `--` alone) cuts the rest; a "Sent from my iPhone"-like
//!    line goes; a last paragraph that reads as a confidentiality disclaimer goes.
//!
//! Never trims to nothing: when no text would be left, the text is kept whole.

/// Lines that open Outlook's quoted original.
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "originalnachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "mensagem original",
    "ursprungligt meddelande",
    "originalmeddelelse",
    "alkuperäinen viesti",
    "wiadomość oryginalna",
    "исходное сообщение",
];

/// The names of Outlook's quoted header fields, by language: From, Sent/Date, To/Subject.
const FROM_FIELDS: &[&str] = &[
    "from",
    "de",
    "von",
    "da",
    "van",
    "från",
    "fra",
    "od",
    "от",
    "lähettäjä",
];
const SENT_FIELDS: &[&str] = &[
    "sent",
    "date",
    "envoyé",
    "gesendet",
    "datum",
    "enviado",
    "enviada",
    "fecha",
    "inviato",
    "data",
    "verzonden",
    "skickat",
    "sendt",
    "wysłano",
    "отправлено",
    "дата",
    "lähetetty",
];
const SUBJECT_FIELDS: &[&str] = &[
    "subject",
    "objet",
    "betreff",
    "asunto",
    "assunto",
    "oggetto",
    "onderwerp",
    "ämne",
    "emne",
    "temat",
    "тема",
    "aihe",
];

/// How an attribution line ends, lower-cased, without the final colon.
const WROTE: &[&str] = &[
    "wrote",
    "a écrit",
    "schrieb",
    "escribió",
    "ha scritto",
    "scrisse",
    "escreveu",
    "schreef",
    "skrev",
    "napisał",
    "napisała",
    "napisał(a)",
    "написал",
    "написала",
    "написал(а)",
    "kirjoitti",
    "írta",
    "yazdı",
    "のメッセージ",
    "写道",
];

/// "Sent from my iPhone" and its kind: a line that starts with one of these.
const SENT_FROM: &[&str] = &[
    "sent from my ",
    "sent from mail for windows",
    "sent from outlook",
    "sent from yahoo mail",
    "sent from samsung",
    "get outlook for ",
    "envoyé de mon ",
    "envoyé depuis mon ",
    "von meinem ",
    "gesendet von meinem ",
    "enviado desde mi ",
    "enviado do meu ",
    "enviado de meu ",
    "inviato da ",
    "verstuurd vanaf mijn ",
    "skickat från min ",
    "sendt fra min ",
    "отправлено с ",
    "wysłane z ",
];

/// The first words of a confidentiality disclaimer paragraph.
const DISCLAIMER: &[&str] = &[
    "disclaimer",
    "confidentiality notice",
    "confidential:",
    "this e-mail and any",
    "this email and any",
    "this message and any",
    "this e-mail is confidential",
    "this email is confidential",
    "this message is confidential",
    "this message is intended",
    "this email is intended",
    "this e-mail is intended",
    "the information contained in this",
    "the information in this e-mail",
    "the information in this email",
    "diese e-mail enthält vertrauliche",
    "ce message et ses pièces jointes",
    "ce message et toutes les pièces jointes",
];

/// The text without quoted replies, signatures and disclaimers (see the module doc).
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut keep: Vec<bool> = vec![true; lines.len()];
    let mut end = lines.len();
    // 1. Outlook's quoted original.
    if let Some(i) = (0..end).find(|&i| outlook_original_at(&lines, i)) {
        end = i;
    }
    // 2. Attributions.
    let mut i = 0;
    while i < end {
        let Some(len) = attribution_at(&lines, i) else {
            i += 1;
            continue;
        };
        let next = (i + len..end).find(|&j| !lines[j].trim().is_empty());
        match next {
            Some(j) if is_quoted(lines[j]) => {
                keep[i..i + len].iter_mut().for_each(|k| *k = false);
                i += len;
            }
            _ if has_text(&lines[..i], &keep[..i]) => {
                end = i;
            }
            _ => i += len,
        }
    }
    // 3. Quoted lines.
    for (k, l) in keep.iter_mut().zip(&lines).take(end) {
        if is_quoted(l) {
            *k = false;
        }
    }
    // 4. Signatures, "Sent from my …", disclaimers.
    let signature = (0..end).find(|&i| {
        lines[i].trim_end_matches('\r') == "-- " || (lines[i].trim() == "--" && end - i <= 7)
    });
    if let Some(i) = signature {
        end = i;
    }
    // "Sent from my iPhone" and a disclaimer: in the last paragraph only.
    if let Some(start) = last_paragraph_start(&lines[..end], &keep[..end]) {
        for i in start..end {
            let lower = lines[i].trim().to_lowercase();
            // German puts the verb last: "Von meinem iPhone gesendet".
            let german = lower.starts_with("von meinem ") && !lower.ends_with("gesendet");
            if lower.chars().count() <= 60
                && !german
                && SENT_FROM.iter().any(|p| lower.starts_with(p))
            {
                keep[i] = false;
            }
        }
    }
    if let Some(i) = last_paragraph_start(&lines[..end], &keep[..end]) {
        let lower = lines[i].trim().to_lowercase();
        let length: usize = lines[i..end].iter().map(|l| l.len()).sum();
        if length >= 120
            && DISCLAIMER.iter().any(|d| lower.starts_with(d))
            && has_text(&lines[..i], &keep[..i])
        {
            end = i;
        }
    }
    let out: Vec<&str> = lines[..end]
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| *l)
        .collect();
    let out = out.join("\n");
    if out.trim().is_empty() {
        return text.to_string();
    }
    out.trim_end().to_string()
}

/// A quoted line: `>` then a space, another `>` or nothing (`>50 orders` is not a quote).
fn is_quoted(line: &str) -> bool {
    let rest = line.trim_start();
    rest.strip_prefix('>')
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '>', '\t']))
}

fn has_text(lines: &[&str], keep: &[bool]) -> bool {
    lines
        .iter()
        .zip(keep)
        .any(|(l, k)| *k && !l.trim().is_empty() && !is_quoted(l))
}

/// Where the last paragraph of kept lines starts.
fn last_paragraph_start(lines: &[&str], keep: &[bool]) -> Option<usize> {
    let last = (0..lines.len())
        .rev()
        .find(|&i| keep[i] && !lines[i].trim().is_empty())?;
    let mut i = last;
    while i > 0 && !(keep[i - 1] && lines[i - 1].trim().is_empty()) {
        i -= 1;
    }
    Some(i)
}

/// The header field name of a line like `From: x` (lower-cased, `*` of Outlook's bold text
/// and spaces before the colon removed).
fn field_name(line: &str) -> Option<String> {
    let line = line.trim().trim_start_matches('*');
    let (name, _) = line.split_once(':')?;
    let name = name.trim().trim_end_matches('*').trim().to_lowercase();
    (!name.is_empty() && name.chars().count() <= 20).then_some(name)
}

/// Whether Outlook's quoted original starts at line `i`.
fn outlook_original_at(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    if line.starts_with("-----") {
        let inner = line.trim_matches('-').trim().to_lowercase();
        if ORIGINAL_MESSAGE.iter().any(|o| inner == *o) {
            return true;
        }
    }
    let underscores = line.len() >= 20 && line.chars().all(|c| c == '_');
    let header_from = |j: usize| {
        field_name(lines[j]).is_some_and(|n| FROM_FIELDS.contains(&n.as_str()))
            && i + 1 < lines.len()
    };
    let from_at = if underscores {
        (i + 1..lines.len().min(i + 3)).find(|&j| header_from(j))
    } else {
        header_from(i).then_some(i)
    };
    let Some(f) = from_at else {
        return false;
    };
    // Outlook always writes a Subject line: an itinerary's From/To/Date is not a quote.
    let window = &lines[f + 1..lines.len().min(f + 6)];
    let names: Vec<String> = window.iter().filter_map(|l| field_name(l)).collect();
    names.iter().any(|n| SENT_FIELDS.contains(&n.as_str()))
        && names.iter().any(|n| SUBJECT_FIELDS.contains(&n.as_str()))
}

/// The number of lines (1 or 2) of an attribution starting at line `i`.
fn attribution_at(lines: &[&str], i: usize) -> Option<usize> {
    let one = lines[i].trim();
    if is_attribution(one) {
        return Some(1);
    }
    let next = lines.get(i + 1)?.trim();
    if is_attribution(next) {
        return None; // the next line is one on its own: this line is text before it
    }
    (!one.is_empty() && !next.is_empty() && is_attribution(&format!("{one} {next}"))).then_some(2)
}

fn is_attribution(line: &str) -> bool {
    let Some(body) = line.strip_suffix(':').or_else(|| line.strip_suffix('：')) else {
        return false;
    };
    if line.chars().count() > 200 {
        return false;
    }
    // A real attribution names a date or an address: "Here is what the customer wrote:" does not.
    if !line.chars().any(|c| c.is_ascii_digit() || c == '@') {
        return false;
    }
    let lower = body.trim_end().to_lowercase();
    WROTE.iter().any(|w| lower.ends_with(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style_attribution_and_quote() {
        let t = "Sounds good.\n\nOn Mon, Dec 7, 2026 at 9:14 AM Ann Lee <ann@example.com>\nwrote:\n\n> Lunch at noon?\n> Ann\n";
        assert_eq!(trim_reply(t), "Sounds good.");
    }

    #[test]
    fn inline_replies_are_kept() {
        let t = "On Tue, 8 Dec 2026, Bob wrote:\n> Are you in?\nYes.\n> And Ann?\nNo.\n";
        assert_eq!(trim_reply(t), "Yes.\nNo.");
    }

    #[test]
    fn outlook_originals_in_two_layouts() {
        let t = "OK, done.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Ann\nSubject: x\n\nPlease do it.";
        assert_eq!(trim_reply(t), "OK, done.");
        let t = "Merci !\n\n________________________________\nDe : Bob\nEnvoyé : lundi\nÀ : Ann\nObjet : x\n\nTexte";
        assert_eq!(trim_reply(t), "Merci !");
        let t = "Thanks\r\n\r\n*From:* Bob [mailto:b@x]\r\n*Sent:* Monday\r\n*To:* Ann\r\n*Subject:* x\r\n\r\nold";
        assert_eq!(trim_reply(t), "Thanks");
    }

    #[test]
    fn signatures_mobile_footers_and_disclaimers() {
        let t = "See you there\n\nSent from my iPhone";
        assert_eq!(trim_reply(t), "See you there");
        let t = "Call me\n-- \nAnn Lee\nACME";
        assert_eq!(trim_reply(t), "Call me");
        let t = "Approved.\n\nThis e-mail and any attachments are confidential and intended solely for the addressee. If you have received it in error, please tell the sender and delete it.";
        assert_eq!(trim_reply(t), "Approved.");
        let t = "Le lun. 7 déc. 2026 à 09:14, Ann <a@x> a écrit :\n> Salut\nÇa marche";
        assert_eq!(trim_reply(t), "Ça marche");
    }

    #[test]
    fn never_trims_to_nothing_and_leaves_plain_text_alone() {
        let t = "> only a quote";
        assert_eq!(trim_reply(t), t);
        let t = "Meeting moved to 3pm.\nFrom: the board\nRoom 4";
        assert_eq!(trim_reply(t), t, "a From: line alone is not a quote header");
        let t = "He wrote: nothing";
        assert_eq!(trim_reply(t), t);
    }

    /// Ordinary mail that looks like a reply in part keeps all of its text.
    #[test]
    fn no_text_is_lost_from_ordinary_mail() {
        for t in [
            "Your booking:\nFrom: London\nTo: Paris\nDate: 3 June\nSeat 12A",
            "Hi Bob,\n\nHere is what the customer wrote:\nThe product arrived broken.",
            "Invoice attached.\nSent via courier today.",
            "Hallo,\nvon meinem Konto wurden 50 EUR abgebucht.\nBitte prüfen.",
            "Agenda:\n--\n1. Budget\n2. Hiring\n3. Office\n4. Travel\n5. Events\n6. Misc\n7. AOB",
            "Hi,\n\nThe information contained in this report is wrong, call me.",
            ">50 orders today\nwell done",
        ] {
            assert_eq!(trim_reply(t), t);
        }
        assert_eq!(
            trim_reply("Sure.\nSee you then.\nOn Mon, 7 Dec, Bob wrote:\n> q"),
            "Sure.\nSee you then."
        );
    }
}
