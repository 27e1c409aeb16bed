//! The console's `config get|eval` (the value in force and its scope) and `config set` (an
//! option changed at once, checked and put in force as a reload does, until the next reload).

use super::context::{Answer, Context, error, ok};

/// `config set [domain D] [binding B] OPTION VALUE`: checked and put in force like a reload,
/// until the next reload.
pub(super) async fn set(ctx: &Context, args: &[&str]) -> Answer {
    let (mut domain, mut binding, mut rest) = (None, None, args);
    loop {
        match rest {
            ["domain", d, more @ ..] => (domain, rest) = (Some(d.to_string()), more),
            ["binding", b, more @ ..] => (binding, rest) = (Some(b.to_string()), more),
            _ => break,
        }
    }
    let [option, value @ ..] = rest else {
        return error("usage: config set [domain D] [binding B] OPTION VALUE");
    };
    if value.is_empty() {
        return error("usage: config set [domain D] [binding B] OPTION VALUE");
    }
    let o = impulse_config::overrides::Override {
        domain,
        binding,
        option: option.to_string(),
        value: value.join(" "),
    };
    match ctx.reloader.set(o).await {
        Ok(text) => ok(text),
        Err(text) => error(text),
    }
}

/// `config eval [domain D] [binding B] OPTION` on the configuration in force.
pub(super) fn eval(ctx: &Context, args: &[&str]) -> Answer {
    let (mut domain, mut binding, mut rest) = (None, None, args);
    loop {
        match rest {
            ["domain", d, more @ ..] => (domain, rest) = (Some(*d), more),
            ["binding", b, more @ ..] => (binding, rest) = (Some(*b), more),
            _ => break,
        }
    }
    let [option] = rest else {
        return error("usage: config eval [domain D] [binding B] OPTION");
    };
    match crate::cli::config::evaluate(&ctx.cfg.get(), domain, binding, option) {
        Ok(line) => ok(line),
        Err(e) => error(e),
    }
}
