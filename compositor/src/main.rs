//! `planar`: a headless Wayland compositor for testing dma-buf clients. The CLI over the
//! planar_compositor library.

use clap::Parser;
use planar_compositor::{cli, compare, help, info, results, run};
use tracing_subscriber::EnvFilter;

/// planar's own modules log at info; smithay's chatter (EGL extension lists) only from
/// warn. smithay's EGL error callback is off: planar probes EGL imports that are expected
/// to fail, and logs every failure that matters itself, with its reason. The client side
/// of wayland-backend (the nested window's host connection) is off too: when the host
/// goes away, winit's wake-up thread retries the dead socket in a loop and each failure
/// would be a line; planar logs the host going away once, and stops.
const DEFAULT_LOG: &str = "warn,planar=info,planar_compositor=info,planar_renderer=info,\
     planar_protocol=info,smithay::backend::egl::ffi=off,smithay::backend::egl::display=off,\
     smithay::backend::egl::error=off,wayland_backend::sys::client_impl=off";

fn main() {
    let cli = cli::Cli::parse();
    let filter =
        EnvFilter::try_from_env("PLANAR_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        cli::LogFormat::Text => logs.init(),
        // One object per line, fields flattened beside "message", for log collectors.
        cli::LogFormat::Json => logs.json().flatten_event(true).init(),
    }

    let result = match cli.command {
        cli::Command::Run(args) => run::run(*args),
        cli::Command::Info(args) => info::info(args).map(|()| 0),
        cli::Command::Compare(args) => compare::compare(args),
        cli::Command::Report(args) => results::report(args),
        cli::Command::Completions(args) => help::completions(args).map(|()| 0),
        cli::Command::Man(args) => help::man(args).map(|()| 0),
    };
    match result {
        Ok(code) => run::exit(code),
        Err(err) => {
            eprintln!("planar: {err:#}");
            run::exit(run::EXIT_PLANAR_ERROR);
        }
    }
}
