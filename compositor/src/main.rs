//! `planar`: a headless Wayland compositor for testing dma-buf clients.

mod backend;
mod capture;
mod child;
mod cli;
mod handlers;
mod info;
mod inject;
mod input;
mod keymap;
mod limits;
mod listen;
mod nested;
mod outputs;
mod panic;
mod present;
mod run;
mod runtime_dir;
mod script;
mod state;
mod waits;
mod xwayland;

use clap::Parser;
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
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PLANAR_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .init();

    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Run(args) => run::run(*args),
        cli::Command::Info(args) => info::info(args).map(|()| 0),
        cli::Command::Compare(args) => info::compare(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("planar: {err:#}");
            std::process::exit(run::EXIT_PLANAR_ERROR);
        }
    }
}
