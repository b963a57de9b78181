use super::Report;
use crate::cli::CompletionsArgs;
use crate::error::Result;

pub fn run(args: &CompletionsArgs) -> Result<Report> {
    Ok(Report::Text(String::from_utf8(crate::cli::completion(
        args.shell,
    ))?))
}
