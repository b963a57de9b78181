use super::{Ctx, Location, Report};
use crate::cli::{ConfigAction, ConfigArgs};
use crate::error::Result;
use crate::settings::{Setting, Settings};
use crate::store::Access;

pub fn run(args: &ConfigArgs, ctx: &mut Ctx) -> Result<Report> {
    match &args.action {
        None => {
            // Before any vault exists, show the defaults and where it will
            // be, and create nothing.
            let exists = ctx.vault_path().exists();
            let settings = if exists {
                ctx.vault(Access::Read)?.settings()?
            } else {
                Settings::default()
            };
            Ok(Report::Config {
                settings,
                changed: None,
                location: location(ctx, exists),
            })
        }
        Some(ConfigAction::Set { name, value }) => {
            let setting: Setting = name.parse()?;
            // Check the value before the vault is opened (or created).
            Settings::default().set(setting, value)?;
            let actor = ctx.actor().clone();
            let (settings, changed) = ctx
                .vault(Access::Create)?
                .set_setting(setting, value, &actor)?;
            Ok(Report::Config {
                settings,
                changed: Some(changed),
                location: location(ctx, true),
            })
        }
    }
}

fn location(ctx: &Ctx, exists: bool) -> Location {
    Location {
        path: ctx.vault_path().to_path_buf(),
        engine: "sqlite",
        exists,
    }
}
