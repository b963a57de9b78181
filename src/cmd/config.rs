use super::{Ctx, Report};
use crate::cli::{ConfigAction, ConfigArgs};
use crate::error::Result;
use crate::vault::{Access, Setting};

pub fn run(args: &ConfigArgs, ctx: &mut Ctx) -> Result<Report> {
    match &args.action {
        None => Ok(Report::Config {
            settings: ctx.vault(Access::Existing)?.settings()?,
            changed: None,
        }),
        Some(ConfigAction::Set { name, value }) => {
            let setting: Setting = name.parse()?;
            setting.validate(value)?;
            let (actor, now) = (ctx.actor().to_string(), ctx.now());
            let (settings, changed) = ctx
                .vault(Access::OrCreate)?
                .set_setting(setting, value, &actor, now)?;
            Ok(Report::Config {
                settings,
                changed: Some(changed),
            })
        }
    }
}
