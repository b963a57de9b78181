//! The quota flags of `create`, `rotate` and `update`, read into one
//! change; `verify --cost`.

use crate::cli::QuotaArgs;
use crate::error::{Error, Result};
use crate::quota::{self, QuotaChange, Ratelimit, Refill};
use crate::shown::quote;

/// What the flags ask to change (empty when none was given).
pub fn change(args: &QuotaArgs) -> Result<QuotaChange> {
    let credits = match args.credits.as_deref() {
        None => None,
        Some("unlimited") => Some(None),
        Some(n) => Some(Some(count("--credits", n, "a number or unlimited")?)),
    };
    let add_credits = args
        .add_credits
        .as_deref()
        .map(|n| count("--add-credits", n, "a number"))
        .transpose()?;
    if add_credits.is_some() && credits.is_some() {
        return Err(Error::usage("give --credits or --add-credits, not both").into());
    }
    let refill = match (&args.refill, args.no_refill) {
        (Some(r), _) => Some(Some(Refill::parse(r)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let remove_limits = args
        .no_ratelimits
        .iter()
        .map(|n| quota::limit_name(n).map_err(|why| Error::usage(format!("--no-ratelimit: {why}"))))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(QuotaChange {
        set_limits: args
            .ratelimits
            .iter()
            .map(|r| Ratelimit::parse(r))
            .collect::<std::result::Result<_, _>>()?,
        remove_limits,
        credits,
        add_credits,
        refill,
    })
}

/// A whole number from 0 to the largest count keyward takes.
pub fn count(flag: &str, text: &str, form: &str) -> Result<u64> {
    quota::count(text).ok_or_else(|| {
        Error::usage(format!(
            "{flag} {}: give {form} from 0 to {}",
            quote(text),
            quota::MAX_COUNT
        ))
        .into()
    })
}
