//! SOAP with attachments: what Impulse writes comes back byte for byte, and the reader takes
//! the MIME variations MMSCs and VASPs send (docs/reference/mm7-interop.md §4, §10 items 4–7).

use impulse_mm7::multipart::{CONTENT_ID, bare_id};
use impulse_mm7::*;

const ENV: &str = "<env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\"><env:Body/></env:Envelope>";

fn jpeg() -> Vec<u8> {
    // Every byte value, CR and LF and the boundary's characters included.
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..=255u8).cycle().take(40_000));
    v.extend_from_slice(b"\r\n--=_impulse_1_\r\n");
    v
}

#[test]
fn written_bodies_read_back_with_identical_bytes() {
    let smil = MimePart {
        content_type: "application/smil".into(),
        charset: Some("utf-8".into()),
        content_id: Some("smil@impulse".into()),
        data: b"<smil><body><par><img src=\"cid:img1\"/></par></body></smil>".to_vec(),
        ..Default::default()
    };
    let text = MimePart {
        content_type: "text/plain".into(),
        charset: Some("utf-8".into()),
        content_id: Some("text1".into()),
        data: "Grüße aus Orlando 🌴".as_bytes().to_vec(),
        ..Default::default()
    };
    let image = MimePart {
        content_type: "image/jpeg".into(),
        name: Some("beach.jpg".into()),
        content_id: Some("img1".into()),
        data: jpeg(),
        ..Default::default()
    };
    let content = OutContent::Multi {
        smil: Some("smil@impulse".into()),
        parts: vec![smil.clone(), text.clone(), image.clone()],
    };
    let (ctype, body) = write_body(ENV, Some(&content), 42);
    assert!(ctype.starts_with("multipart/related;"), "{ctype}");
    assert!(ctype.contains("type=\"text/xml\""), "{ctype}");
    let msg = read_body(Some(&ctype), &body).unwrap();
    assert_eq!(msg.envelope, ENV.as_bytes());
    let att = msg.content(Some(&format!("cid:{CONTENT_ID}"))).unwrap();
    assert_eq!(att.content_type, "multipart/related");
    assert_eq!(att.parts.len(), 3);
    assert_eq!(att.parts[0].data, smil.data);
    assert_eq!(att.parts[1].data, text.data);
    assert_eq!(
        att.parts[2].data, image.data,
        "the image must arrive byte-identical"
    );
    assert_eq!(att.parts[2].name.as_deref(), Some("beach.jpg"));
    assert_eq!(att.parts[2].content_id.as_deref(), Some("img1"));

    // No content: a bare text/xml body.
    let (ctype, body) = write_body(ENV, None, 1);
    assert!(ctype.starts_with("text/xml"));
    assert_eq!(
        read_body(Some(&ctype), &body).unwrap().envelope,
        ENV.as_bytes()
    );

    // One text part on its own (MM7_SOAP_Attachment_Simple_MIME).
    let (ctype, body) = write_body(ENV, Some(&OutContent::Single(text.clone())), 7);
    let msg = read_body(Some(&ctype), &body).unwrap();
    let att = msg.content(Some(&format!("cid:{CONTENT_ID}"))).unwrap();
    assert_eq!(
        att.parts,
        vec![MimePart {
            content_id: Some(CONTENT_ID.into()),
            ..text
        }]
    );
}

/// A hand-written body in the style of third-party peers: LF line ends, capitalised parameter
/// names, a quoted boundary with spaces, `start` and Content-IDs without angle brackets, a
/// nested multipart, `BASE64` in capitals and a raw 8-bit part with no transfer encoding.
fn peer_body(href_target: &str) -> (String, Vec<u8>) {
    let ctype =
        "Multipart/Related; Boundary=\"outer b\"; Type=text/xml; Start=soap-start".to_string();
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--outer b\nContent-Type: text/xml; Charset=UTF-8\nContent-ID: soap-start\n\n\
<Envelope><Body><Content href=\"{href_target}\"/></Body></Envelope>\n\
--outer b  \nContent-Type: text/plain\nContent-ID: decoy\n\nnot the content\n\
--outer b\nContent-Type: multipart/mixed; boundary=inner\nContent-ID: content_15\nContent-Location: mms.content\n\n\
--inner\nContent-Type: text/plain; charset=\"iso-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\nH=E9llo\n\
--inner\nContent-Type: image/gif\nContent-Transfer-Encoding: BASE64\n\nR0lGODlhAQABAAAAACw=\n\
--inner\nContent-Type: image/jpeg\nContent-ID: <raw.jpg>\n\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&[0xFF, 0xD8, 0x00, 0x80, 0xFE, 0xFF, 0xD9]);
    body.extend_from_slice(b"\n--inner--\n--outer b--\n");
    (ctype, body)
}

/// A multipart body labelled `text/xml; boundary=…` (seen from MMSC test suites) is read as
/// multipart by its boundary parameter.
#[test]
fn a_boundary_parameter_makes_a_body_multipart_whatever_the_media_type() {
    let (ctype, body) = peer_body("cid:content_15");
    let mislabelled = ctype.replace("Multipart/Related", "text/xml");
    let msg = read_body(Some(&mislabelled), &body).unwrap();
    assert!(String::from_utf8_lossy(&msg.envelope).contains("<Envelope>"));
    assert_eq!(msg.content(Some("cid:content_15")).unwrap().parts.len(), 3);
    // Bare XML with a stray boundary parameter stays XML.
    let xml = read_body(Some("text/xml; boundary=x"), b"<Envelope/>").unwrap();
    assert_eq!(xml.envelope, b"<Envelope/>");
}

#[test]
fn reads_peer_bodies_whatever_the_href_spelling() {
    for href in [
        "cid:content_15",
        "cid: content_15",
        "content_15",
        "<content_15>",
        "mms.content",
        "cid:unknown",
    ] {
        let (ctype, body) = peer_body(href);
        let msg = read_body(Some(&ctype), &body).unwrap();
        assert!(
            String::from_utf8_lossy(&msg.envelope).contains("<Envelope>"),
            "{href}"
        );
        let att = msg.content(Some(href)).unwrap();
        if href == "cid:unknown" {
            // Nothing matches: the first part that is not the envelope, as mbuni does.
            assert_eq!(att.content_id.as_deref(), Some("decoy"));
            continue;
        }
        assert_eq!(att.content_id.as_deref(), Some("content_15"), "{href}");
        assert_eq!(att.parts.len(), 3, "{href}");
        assert_eq!(att.parts[0].data, "Héllo".as_bytes());
        assert_eq!(att.parts[1].data, b"GIF89a\x01\x00\x01\x00\x00\x00\x00,");
        assert_eq!(
            att.parts[2].data,
            [0xFF, 0xD8, 0x00, 0x80, 0xFE, 0xFF, 0xD9]
        );
        assert_eq!(att.parts[2].content_id.as_deref(), Some("raw.jpg"));
    }
}

#[test]
fn finds_the_root_without_start_and_takes_bare_xml_under_a_multipart_type() {
    let body = b"--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b\r\nContent-Type: text/xml\r\n\r\n<Envelope/>\r\n--b--\r\n";
    let msg = read_body(Some("multipart/related; boundary=b"), body).unwrap();
    assert_eq!(msg.envelope, b"<Envelope/>");
    assert_eq!(msg.attachments.len(), 1);

    // Skycore's delivery report: a multipart/related header with no boundary, bare XML.
    let msg = read_body(Some("multipart/related; type=text/xml"), b"  <Envelope/>").unwrap();
    assert_eq!(msg.envelope, b"  <Envelope/>");
    // application/xml responses.
    assert!(read_body(Some("application/xml; charset=utf-8"), b"<x/>").is_ok());
    // A multipart that holds nothing is refused with "format corrupt".
    let err = read_body(Some("multipart/related; boundary=zz"), b"no parts here").unwrap_err();
    assert_eq!(err.code, StatusCode::FORMAT_CORRUPT);
}

#[test]
fn content_ids_lose_their_brackets() {
    assert_eq!(bare_id("<a@b>"), "a@b");
    assert_eq!(bare_id(" a@b "), "a@b");
}
