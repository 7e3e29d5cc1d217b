//! `planar completions SHELL` and `planar man`: shell completions and man pages made
//! from the CLI definition itself (clap_complete, clap_mangen), so they never drift.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "planar", &mut std::io::stdout());
    Ok(())
}

pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("error rendering the man page")?;
            std::io::stdout()
                .write_all(&out)
                .context("error writing the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("error creating {}", dir.display()))?;
            // planar.1 and one planar-SUBCOMMAND.1 per subcommand.
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("error writing man pages to {}", dir.display()))?;
        }
    }
    Ok(())
}
