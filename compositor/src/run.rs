//! `planar run`: the headless compositor, the client command under it, and the exit
//! status that CI reads.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use calloop::{
    generic::Generic,
    signals::{Signal, Signals},
    timer::{TimeoutAction, Timer},
    EventLoop, Interest, Mode, PostAction,
};
use planar_renderer::{compare::check_against, PendingRenderer, RendererChoice};
use smithay::reexports::wayland_server::{Display, ListeningSocket};
use tracing::{info, warn};

use crate::{
    child::{exit_code, ClientCommand},
    cli::RunArgs,
    runtime_dir::RuntimeDir,
    state::{ClientState, OutputConfig, State, Stop},
};

/// Exit status when planar itself failed (could not start, could not write the screenshot).
pub const EXIT_PLANAR_ERROR: i32 = 70;
/// Exit status when `--timeout` ended the command.
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit status when `--expect` found the screenshot different from the reference.
pub const EXIT_MISMATCH: i32 = 125;

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let runtime_dir = RuntimeDir::from_env()?;
    let mut event_loop: EventLoop<State> =
        EventLoop::try_new().context("error creating the event loop")?;
    // The renderer is chosen on a worker while the socket is opened and clients are
    // answered; the worker wakes the loop through this channel when it is done.
    let (ready_tx, ready_rx) = calloop::channel::channel::<()>();
    let nested = args.backend == "nested";
    if nested && args.renderer.renderer == RendererChoice::Pixman {
        anyhow::bail!("--backend nested draws with GLES on the window's EGL display; --renderer pixman is headless only");
    }
    // Nested mode makes its renderer on the window's display, on this thread (winit's
    // event loop must live on the main thread).
    let pending = (!nested).then(|| {
        PendingRenderer::start(args.renderer.renderer, move || {
            let _ = ready_tx.send(());
        })
    });
    event_loop
        .handle()
        .insert_source(ready_rx, |_, _, state| {
            state.ensure_backend();
        })
        .map_err(|e| anyhow::anyhow!("error watching the renderer worker: {e}"))?;
    let mut display: Display<State> = Display::new().context("error creating the display")?;

    let config = OutputConfig {
        dmabuf_version: args.dmabuf_version,
        import_policy: args.import_policy(),
        linear_only: args.modifiers == "linear-only",
        size: args.size,
        scale: args.scale,
        refresh_hz: args.refresh,
        virtual_clock: args.clock == "virtual",
    };
    let mut state = State::new(display.handle(), pending, &config);
    state
        .capture_policy
        .set_allow_all(args.allow_capture == "all");
    state.loop_handle = Some(event_loop.handle());
    state.screenshot.path = args.screenshot.clone();
    state.screenshot.after_frames = args.after_frames;
    state.screenshot.wanted = args.screenshot.is_some() || args.expect.is_some();
    if nested {
        #[cfg(feature = "nested")]
        crate::nested::start(&mut state, &event_loop.handle())?;
        #[cfg(not(feature = "nested"))]
        anyhow::bail!("this planar was built without the `nested` feature");
    } else {
        // A keyboard (and pointer) headless too: clipboard clients wait for keyboard focus.
        state.add_input_devices();
    }

    // The socket is made in the runtime directory, whatever this process's environment
    // says, so a private directory works without touching our own environment.
    let (socket, socket_name) = match &args.socket {
        Some(name) => (
            ListeningSocket::bind_absolute(runtime_dir.path().join(name))
                .with_context(|| format!("error creating the socket {name}"))?,
            name.clone(),
        ),
        None => bind_auto(runtime_dir.path())?,
    };
    #[cfg(feature = "nested")]
    if let Some(crate::backend::Backend::Nested(nested)) = &state.backend {
        nested.set_title(&socket_name);
    }
    let handle = event_loop.handle();
    let mut dh = display.handle();
    handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            move |_, socket, _| {
                while let Some(stream) = socket.accept()? {
                    match dh.insert_client(stream, Arc::new(ClientState::default())) {
                        Ok(client) => crate::client_name::remember(&client, &dh),
                        Err(err) => warn!(?err, "error adding a client"),
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("error listening on the socket: {e}"))?;
    // Wakes the loop when clients write; the dispatch itself happens in the loop below,
    // where the display is at hand.
    let poll_fd = display
        .backend()
        .poll_fd()
        .try_clone_to_owned()
        .context("error cloning the display fd")?;
    handle
        .insert_source(
            Generic::new(poll_fd, Interest::READ, Mode::Level),
            |_, _, _| Ok(PostAction::Continue),
        )
        .map_err(|e| anyhow::anyhow!("error watching the display: {e}"))?;

    let refresh = state.refresh;
    if !state.on_demand {
        handle
            .insert_source(Timer::from_duration(refresh), move |_, _, state| {
                state.tick();
                TimeoutAction::ToDuration(refresh)
            })
            .map_err(|e| anyhow::anyhow!("error adding the frame timer: {e}"))?;
    }

    handle
        .insert_source(
            Signals::new(&[Signal::SIGINT, Signal::SIGTERM])
                .context("error watching SIGINT/SIGTERM")?,
            |event, _, state| {
                info!(signal = ?event.signal(), "stopping on signal");
                state.stop.get_or_insert(Stop::Signal);
            },
        )
        .map_err(|e| anyhow::anyhow!("error adding the signal source: {e}"))?;

    if args.command.is_empty() {
        // The one line scripts read to connect; with a command, stdout is the command's.
        println!(
            "planar: listening on {socket_name} in {}",
            runtime_dir.path().display()
        );
    }
    info!(socket = %socket_name, dir = %runtime_dir.path().display(), "listening");

    let mut child = match args.command.as_slice() {
        [] => None,
        argv => {
            let token = state.capture_policy.token().to_string();
            let cmd = ClientCommand::spawn(argv, runtime_dir.path(), &socket_name, &token)?;
            state.capture_policy.set_child(cmd.child.id());
            let pidfd = cmd.pidfd.try_clone().context("error cloning the pidfd")?;
            handle
                .insert_source(
                    Generic::new(pidfd, Interest::READ, Mode::Level),
                    |_, _, _| Ok(PostAction::Remove),
                )
                .map_err(|e| anyhow::anyhow!("error watching the command: {e}"))?;
            Some(cmd)
        }
    };
    if let Some(timeout) = args.timeout {
        handle
            .insert_source(Timer::from_duration(timeout), |_, _, state| {
                state.stop.get_or_insert(Stop::TimedOut);
                TimeoutAction::Drop
            })
            .map_err(|e| anyhow::anyhow!("error adding the timeout: {e}"))?;
    }

    while state.stop.is_none() {
        let step = crate::panic::catch("handling a request", || -> anyhow::Result<()> {
            event_loop
                .dispatch(Some(Duration::from_millis(100)), &mut state)
                .context("error in the event loop")?;
            if let Some(cmd) = child.as_mut() {
                if let Ok(Some(status)) = cmd.child.try_wait() {
                    state.stop.get_or_insert(Stop::ChildExited(status));
                }
            }
            // Messages a client sent before the command exited are still handled: the last
            // commit of an app that draws and exits belongs in the picture.
            display
                .dispatch_clients(&mut state)
                .context("error dispatching clients")?;
            if state.on_demand {
                // No refresh tick: fifo and commit-timing updates go through when idle.
                state.release_paced();
            }
            for (callback, data) in state.pending_callbacks.drain(..) {
                callback.done(data);
            }
            display.flush_clients().context("error flushing clients")?;
            Ok(())
        });
        match step {
            Ok(result) => result?,
            Err(_) => state.stop = Some(Stop::Panicked),
        }
    }

    let stop = state.stop.expect("loop ends only with a reason");
    let code = match stop {
        Stop::ChildExited(status) => {
            state.freeze_screenshot("the command exited");
            let code = exit_code(status);
            info!(code, "command exited");
            code
        }
        Stop::TimedOut => {
            state.freeze_screenshot("the command timed out");
            if let Some(cmd) = child.as_mut() {
                cmd.terminate();
            }
            eprintln!(
                "planar: timed out after {:.1} s; the command was ended",
                args.timeout.unwrap_or_default().as_secs_f64()
            );
            EXIT_TIMEOUT
        }
        Stop::Failed => {
            if let Some(cmd) = child.as_mut() {
                cmd.terminate();
            }
            anyhow::bail!(state.failure.take().unwrap_or_default());
        }
        Stop::Panicked => {
            let _ = crate::panic::catch("taking the screenshot", || {
                state.freeze_screenshot("planar panicked")
            });
            if let Some(cmd) = child.as_mut() {
                cmd.terminate();
            }
            EXIT_PLANAR_ERROR
        }
        Stop::Signal | Stop::WindowClosed => {
            state.freeze_screenshot("planar was asked to stop");
            match child.as_mut() {
                Some(cmd) => cmd.terminate().map(exit_code).unwrap_or(EXIT_PLANAR_ERROR),
                None => 0,
            }
        }
    };

    let want_results = args.html.is_some() || args.junit.is_some();
    let records = if args.report.is_some() || want_results {
        crate::panic::catch("writing the report", || {
            state
                .backend
                .as_mut()
                .map(|b| b.engine().import_records())
                .unwrap_or_default()
        })
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&records).context("error encoding the report")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("error writing the report {}", path.display()))?;
        info!(path = %path.display(), buffers = records.len(), "import report written");
    }
    if let (Some(path), Some(image)) = (&state.screenshot.path, &state.screenshot.frozen) {
        image
            .write_png(path)
            .with_context(|| format!("error writing the screenshot {}", path.display()))?;
        info!(path = %path.display(), "screenshot written");
    }
    if state.screenshot.wanted && state.screenshot.frozen.is_none() {
        anyhow::bail!("error taking the screenshot: no frame could be read back");
    }
    let mut code = code;
    let mut checks = Vec::new();
    if let (Some(reference), Some(image)) = (&args.expect, &state.screenshot.frozen) {
        let outcome = check_against(image, reference, &args.check.options())
            .with_context(|| format!("error comparing with {}", reference.display()))?;
        eprintln!("planar: {}", outcome.message(reference));
        if want_results {
            checks.push(crate::results::CheckResult::new(
                reference,
                image,
                args.screenshot.as_deref(),
                &outcome,
                &args.check.options(),
            ));
        }
        // A failing command keeps its own status; a mismatch fails a run that passed.
        if !outcome.passed() && code == 0 {
            code = EXIT_MISMATCH;
        }
    }
    if want_results {
        crate::results::write_run(&args, started.elapsed(), code, checks, &records)?;
    }
    if stop == Stop::Panicked {
        // Their state may be inconsistent after the panic: tearing it down could panic
        // again, and the process ends now anyway.
        std::mem::forget(state);
        std::mem::forget(display);
    } else {
        drop(state);
        drop(display);
    }
    Ok(code)
}

/// The first free `wayland-N` in `dir`.
fn bind_auto(dir: &std::path::Path) -> anyhow::Result<(ListeningSocket, String)> {
    for n in 1..33 {
        let name = format!("wayland-{n}");
        if let Ok(socket) = ListeningSocket::bind_absolute(dir.join(&name)) {
            return Ok((socket, name));
        }
    }
    anyhow::bail!(
        "error creating a socket: wayland-1..32 in {} are all taken",
        dir.display()
    )
}
