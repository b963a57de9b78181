use super::Report;
use crate::cli::CompletionsArgs;
use crate::error::Result;

pub fn run(args: &CompletionsArgs) -> Result<Report> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut crate::cli::command(), "keyward", &mut buf);
    Ok(Report::Text(String::from_utf8(buf)?))
}
