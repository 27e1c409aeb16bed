//! Console `config set`: one option given a new value in one scope (global, a domain, a
//! binding, or a binding's domain) on top of the configuration file's items, before they are
//! validated like a reload. The value is written in the file's syntax and parsed by the same
//! parser; a setting of the same option already in that scope is replaced, never doubled.

use crate::ast::{Item, Setting, Span, Stanza};
use crate::parse::parse_str;
use crate::registry;

/// One `config set`: where, which option, and its value as the operator typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub domain: Option<String>,
    pub binding: Option<String>,
    pub option: String,
    pub value: String,
}

impl Override {
    /// The setting it makes, parsed as a line of the configuration file named `console`.
    fn setting(&self) -> Result<Setting, String> {
        let (items, diags) = parse_str("console", &format!("{} = {}\n", self.option, self.value));
        if let Some(d) = diags.first() {
            return Err(format!("`{} = {}`: {}", self.option, self.value, d.message));
        }
        match items.as_slice() {
            [Item::Setting(s)] => Ok(s.clone()),
            _ => Err(format!(
                "`{} = {}` is not one setting",
                self.option, self.value
            )),
        }
    }
}

/// The canonical name of an option (aliases read as the option they name).
fn canonical(name: &str) -> String {
    registry::option(name).map_or_else(
        || name.to_ascii_lowercase(),
        |d| d.name.to_ascii_lowercase(),
    )
}

fn is_named(st: &Stanza, kind: &str, name: &str, case_sensitive: bool) -> bool {
    st.kind.eq_ignore_ascii_case(kind)
        && st.name.as_deref().is_some_and(|n| {
            if case_sensitive {
                n == name
            } else {
                n.eq_ignore_ascii_case(name)
            }
        })
}

/// Removes settings of `option` from `items` (this scope only, not nested stanzas).
fn remove(items: &mut Vec<Item>, option: &str) {
    items.retain(|i| !matches!(i, Item::Setting(s) if canonical(&s.name) == option));
}

/// The items of binding `b`'s stanza, at the top or inside a binding_group.
fn binding_items<'a>(items: &'a mut [Item], b: &str) -> Option<&'a mut Vec<Item>> {
    for item in items.iter_mut() {
        let Item::Stanza(st) = item else { continue };
        if is_named(st, "binding", b, true) {
            return Some(&mut st.items);
        }
        if st.kind.eq_ignore_ascii_case("binding_group")
            && let Some(found) = binding_items(&mut st.items, b)
        {
            return Some(found);
        }
    }
    None
}

/// Puts `o` into `items`: replaces the option in its scope, or adds it there; a domain stanza
/// that does not exist yet is added. A binding must exist in the file.
pub fn apply(items: &mut Vec<Item>, o: &Override) -> Result<(), String> {
    let setting = o.setting()?;
    let option = canonical(&setting.name);
    let scope: &mut Vec<Item> = match &o.binding {
        Some(b) => binding_items(items, b)
            .ok_or_else(|| format!("no binding \"{b}\" in the configuration"))?,
        None => items,
    };
    let scope = match &o.domain {
        None => scope,
        Some(d) => {
            // Every stanza of the domain in this scope loses the option; the last one gets it.
            let mut last = None;
            for (i, item) in scope.iter_mut().enumerate() {
                if let Item::Stanza(st) = item
                    && is_named(st, "domain", d, false)
                {
                    remove(&mut st.items, &option);
                    last = Some(i);
                }
            }
            let i = match last {
                Some(i) => i,
                None => {
                    scope.push(Item::Stanza(Stanza {
                        kind: "domain".into(),
                        name: Some(d.clone()),
                        items: Vec::new(),
                        span: console_span(),
                    }));
                    scope.len() - 1
                }
            };
            match &mut scope[i] {
                Item::Stanza(st) => &mut st.items,
                Item::Setting(_) => unreachable!("a domain stanza was found or added at {i}"),
            }
        }
    };
    remove(scope, &option);
    scope.push(Item::Setting(setting));
    Ok(())
}

fn console_span() -> Span {
    Span {
        file: "console".into(),
        line: 1,
        col: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resolved;

    fn set(text: &str, o: &Override) -> Result<crate::Config, String> {
        let (mut items, diags) = parse_str("t.conf", text);
        assert!(diags.is_empty());
        apply(&mut items, o)?;
        let (cfg, diags) = crate::model::validate_all(&items);
        if let Some(d) = diags.first() {
            return Err(d.to_string());
        }
        Ok(cfg)
    }

    fn o(domain: Option<&str>, binding: Option<&str>, option: &str, value: &str) -> Override {
        Override {
            domain: domain.map(Into::into),
            binding: binding.map(Into::into),
            option: option.into(),
            value: value.into(),
        }
    }

    #[test]
    fn replaces_in_its_scope_or_adds_the_scope() {
        let file =
            "Retry_Interval = 60\ndomain \"a.example\" { Max_Retries = 3 }\nbinding \"b1\" { }\n";
        let cfg = set(file, &o(Some("A.example"), None, "max_retries", "5")).unwrap();
        let v = cfg
            .sending(Some("a.example"), None)
            .scalar(crate::names::MAX_RETRIES);
        assert_eq!(v.as_deref(), Some("5"));
        let cfg = set(file, &o(None, None, "Retry_Interval", "30")).unwrap();
        assert_eq!(
            cfg.sending(None, None)
                .scalar(crate::names::RETRY_INTERVAL)
                .as_deref(),
            Some("30")
        );
        let cfg = set(
            file,
            &o(Some("new.example"), Some("b1"), "Max_Retries", "9"),
        )
        .unwrap();
        assert_eq!(
            cfg.sending(Some("new.example"), Some("b1"))
                .scalar(crate::names::MAX_RETRIES)
                .as_deref(),
            Some("9")
        );
        assert!(set(file, &o(None, Some("nope"), "Max_Retries", "1")).is_err());
        let bad = set(file, &o(None, None, "Max_Retries", "lots")).unwrap_err();
        assert!(bad.contains("Max_Retries"), "{bad}");
        let unknown = set(file, &o(None, None, "Retry_Intervall", "1")).unwrap_err();
        assert!(unknown.contains("unknown option"), "{unknown}");
    }
}
