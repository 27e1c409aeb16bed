//! Lexer and parser for the ecelerity.conf grammar (docs/reference/momentum.md §6.1).
//!
//! Written by hand rather than with a combinator crate: the grammar has a dozen tokens, and a
//! hand-written recursive-descent parser makes error recovery explicit, so that one run reports
//! every syntax error with its file:line:col instead of stopping at the first.
//!
//! Input is untrusted text; nesting depth is capped (`MAX_DEPTH`) so a hostile file cannot
//! overflow the stack.

use std::sync::Arc;

use crate::ast::{Diagnostic, Item, Setting, Span, Stanza, Value};

/// Deepest stanza / list / hash nesting accepted. Real configurations use four levels
/// (binding_group > binding > domain, listener > Listen > Peer); 64 leaves plenty of room.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Eq,
    Comma,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    file: Arc<str>,
    line: u32,
    col: u32,
    diags: Vec<Diagnostic>,
}

/// Characters that end a bare word.
fn is_special(c: char) -> bool {
    c.is_whitespace() || "#\"'={}[](),;".contains(c)
}

impl<'a> Lexer<'a> {
    fn span(&self) -> Span {
        Span {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn tokens(mut self) -> (Vec<(Tok, Span)>, Vec<Diagnostic>) {
        let mut out = Vec::new();
        loop {
            // Skip whitespace, `;` separators and comments.
            while let Some(&c) = self.chars.peek() {
                if c.is_whitespace() || c == ';' {
                    self.bump();
                } else if c == '#' {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                } else if c == '/' && self.peek2() == Some('*') {
                    let start = self.span();
                    self.bump();
                    self.bump();
                    let mut closed = false;
                    while let Some(c) = self.bump() {
                        if c == '*' && self.chars.peek() == Some(&'/') {
                            self.bump();
                            closed = true;
                            break;
                        }
                    }
                    if !closed {
                        self.diags
                            .push(Diagnostic::at(&start, "unterminated /* comment"));
                    }
                } else {
                    break;
                }
            }
            let span = self.span();
            let Some(c) = self.bump() else {
                out.push((Tok::Eof, span));
                return (out, self.diags);
            };
            let tok = match c {
                '{' => Tok::LBrace,
                '}' => Tok::RBrace,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '[' => Tok::LBracket,
                ']' => Tok::RBracket,
                '=' => Tok::Eq,
                ',' => Tok::Comma,
                '"' | '\'' => self.quoted(c, &span),
                _ => {
                    let mut word = String::from(c);
                    while let Some(&c) = self.chars.peek() {
                        if is_special(c) || (c == '/' && self.peek2() == Some('*')) {
                            break;
                        }
                        word.push(c);
                        self.bump();
                    }
                    Tok::Word(word)
                }
            };
            out.push((tok, span));
        }
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.chars.clone();
        it.next();
        it.next()
    }

    fn quoted(&mut self, quote: char, start: &Span) -> Tok {
        let mut text = String::new();
        loop {
            match self.bump() {
                None => {
                    self.diags
                        .push(Diagnostic::at(start, "unterminated quoted string"));
                    break;
                }
                Some(c) if c == quote => break,
                Some('\\') => match self.bump() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some(c) => text.push(c),
                    None => {
                        self.diags
                            .push(Diagnostic::at(start, "unterminated quoted string"));
                        break;
                    }
                },
                Some(c) => text.push(c),
            }
        }
        Tok::Quoted(text)
    }
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    diags: Vec<Diagnostic>,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }

    fn span(&self) -> Span {
        self.toks[self.pos].1.clone()
    }

    fn next(&mut self) -> (Tok, Span) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error(&mut self, span: &Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::at(span, msg));
    }

    /// Skips to the start of the next line (or to a brace) after an error, so that the rest of
    /// the file is still checked.
    fn recover(&mut self, from_line: u32) {
        loop {
            match self.peek() {
                Tok::Eof | Tok::RBrace => return,
                _ if self.toks[self.pos].1.line > from_line => return,
                _ => {
                    self.next();
                }
            }
        }
    }

    /// Items until `}` (when `nested`) or end of file.
    fn items(&mut self, nested: bool, depth: usize) -> Vec<Item> {
        let mut items = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Eof => {
                    if nested {
                        let span = self.span();
                        self.error(&span, "missing `}` before end of file");
                    }
                    return items;
                }
                Tok::RBrace => {
                    if nested {
                        return items;
                    }
                    let (_, span) = self.next();
                    self.error(&span, "unexpected `}` with no open stanza");
                }
                Tok::Word(name) | Tok::Quoted(name) => {
                    let (_, span) = self.next();
                    if let Some(item) = self.item(name, span, depth) {
                        items.push(item);
                    }
                }
                other => {
                    let (_, span) = self.next();
                    self.error(
                        &span,
                        format!(
                            "expected an option or stanza name, found {}",
                            other.describe()
                        ),
                    );
                    self.recover(span.line);
                }
            }
        }
    }

    fn item(&mut self, name: String, span: Span, depth: usize) -> Option<Item> {
        match self.peek().clone() {
            Tok::Eq => {
                self.next();
                let value = self.value(depth, &span)?;
                Some(Item::Setting(Setting { name, value, span }))
            }
            Tok::LBrace => self.stanza(name, None, span, depth),
            Tok::Word(arg) | Tok::Quoted(arg) => {
                if *self.peek_at(1) == Tok::LBrace {
                    self.next();
                    self.stanza(name, Some(arg), span, depth)
                } else {
                    let value = self.value(depth, &span)?;
                    Some(Item::Setting(Setting { name, value, span }))
                }
            }
            Tok::LParen | Tok::LBracket => {
                let value = self.value(depth, &span)?;
                Some(Item::Setting(Setting { name, value, span }))
            }
            other => {
                let at = self.span();
                self.error(
                    &at,
                    format!(
                        "expected `=`, a value or `{{` after `{name}`, found {}",
                        other.describe()
                    ),
                );
                self.recover(span.line);
                None
            }
        }
    }

    fn stanza(
        &mut self,
        kind: String,
        name: Option<String>,
        span: Span,
        depth: usize,
    ) -> Option<Item> {
        self.next(); // `{`
        if depth >= MAX_DEPTH {
            self.error(
                &span,
                format!("stanzas nested deeper than {MAX_DEPTH} levels"),
            );
            return None;
        }
        let items = self.items(true, depth + 1);
        if *self.peek() == Tok::RBrace {
            self.next();
        }
        Some(Item::Stanza(Stanza {
            kind,
            name,
            items,
            span,
        }))
    }

    fn value(&mut self, depth: usize, owner: &Span) -> Option<Value> {
        if depth >= MAX_DEPTH {
            self.error(
                owner,
                format!("values nested deeper than {MAX_DEPTH} levels"),
            );
            return None;
        }
        let (tok, span) = self.next();
        match tok {
            Tok::Word(text) => Some(Value::Scalar {
                text,
                quoted: false,
            }),
            Tok::Quoted(text) => Some(Value::Scalar { text, quoted: true }),
            Tok::LParen => {
                let mut items = Vec::new();
                loop {
                    match self.peek() {
                        Tok::RParen => {
                            self.next();
                            return Some(Value::List(items));
                        }
                        Tok::Comma => {
                            self.next();
                        }
                        Tok::Eof | Tok::RBrace => {
                            self.error(&span, "list `(` is never closed with `)`");
                            return None;
                        }
                        _ => items.push(self.value(depth + 1, owner)?),
                    }
                }
            }
            Tok::LBracket => {
                let mut pairs = Vec::new();
                loop {
                    match self.next() {
                        (Tok::RBracket, _) => return Some(Value::Hash(pairs)),
                        (Tok::Comma, _) => {}
                        (Tok::Word(key) | Tok::Quoted(key), key_span) => {
                            if *self.peek() != Tok::Eq {
                                self.error(
                                    &key_span,
                                    format!("expected `=` after hash key `{key}`"),
                                );
                                self.recover(key_span.line);
                                return None;
                            }
                            self.next();
                            pairs.push((key, self.value(depth + 1, owner)?));
                        }
                        (other, at) => {
                            self.error(
                                &at,
                                format!("expected a hash key or `]`, found {}", other.describe()),
                            );
                            self.recover(at.line);
                            return None;
                        }
                    }
                }
            }
            other => {
                self.error(
                    &span,
                    format!("expected a value, found {}", other.describe()),
                );
                self.recover(span.line);
                None
            }
        }
    }
}

/// Parses one file's text. Returns the items that could be parsed and every syntax error.
pub fn parse_str(file: &str, text: &str) -> (Vec<Item>, Vec<Diagnostic>) {
    let lexer = Lexer {
        chars: text.chars().peekable(),
        file: Arc::from(file),
        line: 1,
        col: 1,
        diags: vec![],
    };
    let (toks, mut diags) = lexer.tokens();
    let mut parser = Parser {
        toks,
        pos: 0,
        diags: vec![],
    };
    let items = parser.items(false, 0);
    diags.extend(parser.diags);
    (items, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<Item> {
        let (items, diags) = parse_str("t.conf", text);
        assert!(diags.is_empty(), "{diags:?}");
        items
    }

    #[test]
    fn settings_stanzas_lists_hashes_and_comments() {
        let items = ok(r#"
            # comment
            Spoolbase = "/var/spool/impulse"  /* inline */
            ESMTP_Listener { Listen "127.0.0.1:2525" { relay_hosts = ( 127.0.0.1 "::1" ) } }
            domain example.com { SMPP_Persistent_Connections = [ Persist_This = 1, other = "2" ] }
            Outbound_Throttle_Messages "60/3"
        "#);
        assert_eq!(items.len(), 4);
        let Item::Stanza(listener) = &items[1] else {
            panic!()
        };
        assert_eq!(listener.kind, "ESMTP_Listener");
        let Item::Stanza(listen) = &listener.items[0] else {
            panic!()
        };
        assert_eq!(listen.name.as_deref(), Some("127.0.0.1:2525"));
        let Item::Setting(s) = &listen.items[0] else {
            panic!()
        };
        assert_eq!(
            s.value,
            Value::List(vec![
                Value::scalar("127.0.0.1"),
                Value::Scalar {
                    text: "::1".into(),
                    quoted: true
                }
            ])
        );
        let Item::Stanza(dom) = &items[2] else {
            panic!()
        };
        let Item::Setting(h) = &dom.items[0] else {
            panic!()
        };
        assert_eq!(h.value.to_string(), "[ Persist_This = 1, other = 2 ]");
        let Item::Setting(t) = &items[3] else {
            panic!()
        };
        assert_eq!(t.value.as_scalar(), Some("60/3"));
    }

    #[test]
    fn every_error_is_reported_with_its_position() {
        let (_, diags) = parse_str("bad.conf", "x = (1 2\n}\nc = \"open\n");
        let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            [
                "bad.conf:3:5: error: unterminated quoted string",
                "bad.conf:1:5: error: list `(` is never closed with `)`",
                "bad.conf:2:1: error: unexpected `}` with no open stanza",
            ]
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "a { ".repeat(10_000);
        let (_, diags) = parse_str("deep.conf", &text);
        assert!(diags.iter().any(|d| d.message.contains("nested deeper")));
    }
}
