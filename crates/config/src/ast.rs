//! The syntax tree of an ecelerity.conf file, as written: every node keeps the place it came
//! from so that validation can point at file:line:col. Nothing here knows what an option means.

use std::fmt;
use std::sync::Arc;

/// Where a token starts in a configuration file (1-based line and column, in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A value as written: a word or quoted string, a list `( a b )`, or a hash `[ k = v, ... ]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar { text: String, quoted: bool },
    List(Vec<Value>),
    Hash(Vec<(String, Value)>),
}

impl Value {
    pub fn scalar(text: impl Into<String>) -> Self {
        Value::Scalar {
            text: text.into(),
            quoted: false,
        }
    }

    /// The text of a scalar value, `None` for lists and hashes.
    pub fn as_scalar(&self) -> Option<&str> {
        match self {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Writes the value back in configuration syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar { text, .. } => {
                let bare = !text.is_empty()
                    && !text
                        .chars()
                        .any(|c| c.is_whitespace() || "#/\"'={}[](),;".contains(c));
                if bare {
                    f.write_str(text)
                } else {
                    write!(f, "\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
                }
            }
            Value::List(items) => {
                f.write_str("(")?;
                for item in items {
                    write!(f, " {item}")?;
                }
                f.write_str(" )")
            }
            Value::Hash(pairs) => {
                f.write_str("[")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{k} = {v}")?;
                }
                f.write_str(" ]")
            }
        }
    }
}

/// `name = value` (the `=` is optional in the grammar).
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: String,
    pub value: Value,
    pub span: Span,
}

/// `kind { ... }` or `kind "name" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stanza {
    pub kind: String,
    pub name: Option<String>,
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Setting(Setting),
    Stanza(Stanza),
}

/// One problem found in a configuration, with the place it was found when there is one.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub span: Option<Span>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span: Some(span.clone()),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{span}: error: {}", self.message),
            None => write!(f, "error: {}", self.message),
        }
    }
}
