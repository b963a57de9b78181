use super::{Ctx, Report};
use crate::cli::{ConfigAction, ConfigArgs};
use crate::error::Result;
use crate::settings::{Setting, Settings};
use crate::store::Access;

pub fn run(args: &ConfigArgs, ctx: &mut Ctx) -> Result<Report> {
    match &args.action {
        None => Ok(Report::Config {
            settings: ctx.vault(Access::Read)?.settings()?,
            changed: None,
        }),
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
            })
        }
    }
}
