use super::{Ctx, Report, Whereabouts};
use crate::cli::{ConfigAction, ConfigArgs};
use crate::error::{Error, Result};
use crate::intents;
use crate::settings::{Setting, Settings};
use crate::store::Access;

pub fn run(args: &ConfigArgs, ctx: &mut Ctx) -> Result<Report> {
    match &args.action {
        None => {
            // Before any vault exists, show the defaults and where it will
            // be, and create nothing.
            let settings = match ctx.vault(Access::Read) {
                Ok(vault) => Some(vault.settings()?),
                Err(e) if is_missing(&e) => None,
                Err(e) => return Err(e),
            };
            Ok(Report::Config {
                location: location(ctx, settings.is_some()),
                settings: settings.unwrap_or_default(),
                changed: None,
            })
        }
        Some(ConfigAction::Set { name, value }) => {
            let setting: Setting = name.parse()?;
            // Check the value before the vault is opened (or created).
            Settings::default().set(setting, value)?;
            let actor = ctx.actor().clone();
            let (settings, changed) = ctx
                .vault(Access::Create)?
                .write(|tx, now| intents::set_setting(tx, setting, value, &actor, now))?;
            Ok(Report::Config {
                settings,
                changed: Some(changed),
                location: location(ctx, true),
            })
        }
    }
}

fn location(ctx: &Ctx, exists: bool) -> Whereabouts {
    Whereabouts {
        shown: ctx.location().shown(),
        engine: ctx.location().engine(),
        exists,
    }
}

fn is_missing(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<Error>(), Some(Error::VaultMissing(_)))
}
