//! `planar run`: the headless compositor, the client command under it, and the exit
//! status that CI reads.

use std::time::Duration;

use anyhow::Context;
use calloop::{
    generic::Generic,
    signals::{Signal, Signals},
    timer::{TimeoutAction, Timer},
    EventLoop, Interest, Mode, PostAction,
};
use planar_image::check_against;
use planar_renderer::{PendingRenderer, RendererChoice};
use smithay::reexports::wayland_server::{Display, ListeningSocket};
use tracing::info;

use crate::{
    child::{exit_code, ClientCommand},
    cli::RunArgs,
    runtime_dir::RuntimeDir,
    state::{OutputConfig, State, Stop},
};

/// Exit status when planar itself failed (could not start, could not write the screenshot).
pub const EXIT_PLANAR_ERROR: i32 = 70;
/// Exit status when `--timeout` ended the command.
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit status when `--expect` found the screenshot different from the reference.
pub const EXIT_MISMATCH: i32 = 125;
/// Exit status when a `--script` step failed.
pub const EXIT_STEP_FAILED: i32 = 123;

/// Wakes the loop when clients write (the dispatch itself happens in `serve_clients`,
/// where the display is at hand) and, unless on demand, ticks at the refresh rate. Shared
/// by `run` and the embedded fixture.
pub(crate) fn watch_display_and_tick(
    handle: &calloop::LoopHandle<'static, State>,
    display: &mut Display<State>,
    state: &State,
) -> anyhow::Result<()> {
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
    Ok(())
}

/// One pass over the clients after the event loop woke: their requests, what follows from
/// them (Xwayland pairing, paced updates when on demand, input waits), frame callbacks,
/// then the replies. Shared by `run` and the embedded fixture.
pub(crate) fn serve_clients(display: &mut Display<State>, state: &mut State) -> anyhow::Result<()> {
    display
        .dispatch_clients(state)
        .context("error dispatching clients")?;
    state.pair_x11_surfaces();
    if state.on_demand {
        // No refresh tick: fifo and commit-timing updates go through when idle.
        state.release_paced();
    }
    state.poll_input();
    for (callback, data) in state.pending_callbacks.drain(..) {
        callback.done(data);
    }
    display.flush_clients().context("error flushing clients")?;
    Ok(())
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let runtime_dir = RuntimeDir::from_env()?;
    crate::limits::raise_nofile();
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
        outputs: args.outputs.clone(),
    };
    let mut names: Vec<_> = args.outputs.iter().filter_map(|o| o.name.clone()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("two outputs are named {}", w[0]);
    }
    let mut state = State::new(display.handle(), pending, &config);
    state
        .capture_policy
        .set_allow_all(args.allow_capture == "all");
    state.loop_handle = Some(event_loop.handle());
    let limits = crate::limits::Limits::from_args(&args.limit);
    state.dmabuf_state.set_limits(limits.dmabuf);
    state.capture_policy.set_pending_limit(limits.captures);
    for (name, path) in &args.screenshots {
        match name {
            Some(name) => state
                .screenshot
                .per_output
                .push((name.clone(), path.clone())),
            None => state.screenshot.path = Some(path.clone()),
        }
    }
    state.screenshot.after_frames = args.after_frames;
    state.screenshot.wanted = !args.screenshots.is_empty() || args.expect.is_some();
    state.add_input_devices(&args.keymap)?;
    state.input.allow_all = args.allow_input == "all";
    if let Some(path) = &args.script {
        let steps = crate::script::load(path)?;
        state.input.script = Some(crate::script::Script::new(steps, args.check.bless));
    }
    if nested {
        #[cfg(feature = "nested")]
        crate::nested::start(&mut state, &event_loop.handle())?;
        #[cfg(not(feature = "nested"))]
        anyhow::bail!("this planar was built without the `nested` feature");
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
    crate::listen::watch(&handle, socket, display.handle())?;
    watch_display_and_tick(&handle, &mut display, &state)?;

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

    if args.xwayland {
        crate::xwayland::start(&mut state)?;
        wait_for_xwayland(&mut event_loop, &mut display, &mut state)?;
    }

    if args.command.is_empty() {
        // The one line scripts read to connect; with a command, stdout is the command's.
        println!(
            "planar: listening on {socket_name} in {}",
            runtime_dir.path().display()
        );
        if let Some(x11) = state.x11_display() {
            println!("planar: X11 display {x11}");
        }
    }
    info!(socket = %socket_name, dir = %runtime_dir.path().display(), "listening");

    let mut child = match args.command.as_slice() {
        [] => None,
        argv => {
            let token = state.capture_policy.token().to_string();
            let x11_display = state.x11_display();
            let cmd = ClientCommand::spawn(
                argv,
                runtime_dir.path(),
                &socket_name,
                &token,
                x11_display.as_deref(),
            )?;
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
        // Waits on clients (script steps, planar-test-v1 barriers) are polled every few
        // ms while any is pending.
        let wake = if state.input_busy() { 5 } else { 100 };
        let step = crate::panic::catch("handling a request", || -> anyhow::Result<()> {
            event_loop
                .dispatch(Some(Duration::from_millis(wake)), &mut state)
                .context("error in the event loop")?;
            if let Some(cmd) = child.as_mut() {
                if let Ok(Some(status)) = cmd.child.try_wait() {
                    state.stop.get_or_insert(Stop::ChildExited(status));
                }
            }
            // Messages a client sent before the command exited are still handled: the last
            // commit of an app that draws and exits belongs in the picture.
            serve_clients(&mut display, &mut state)
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
            match state.input.script.as_ref().and_then(|s| s.interrupted()) {
                Some(line) => {
                    eprintln!(
                        "planar: script line {} ({}): the command exited (status {code}) before this step finished",
                        line.line, line.text
                    );
                    EXIT_STEP_FAILED
                }
                None => code,
            }
        }
        Stop::ScriptDone | Stop::StepFailed => {
            state.freeze_screenshot("the script ended");
            if let Some(cmd) = child.as_mut() {
                cmd.terminate();
            }
            match state.input.script.as_ref().and_then(|s| s.failure.as_ref()) {
                Some(failure) => {
                    eprintln!("planar: {failure}");
                    EXIT_STEP_FAILED
                }
                None => 0,
            }
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

    if let Some(backend) = state.backend.as_mut() {
        let (live, streamed) = backend.engine().import_records_held();
        info!(
            held = live,
            streamed, "import records: held in memory for live buffers, streamed to the report"
        );
    }
    if let Some(path) = &args.records_file() {
        // After a panic the engine may be half-updated: a second panic here leaves the
        // records streamed so far in the file (catch logs it) and the run goes on.
        let written = crate::panic::catch("writing the report", || match state.backend.as_mut() {
            Some(b) => b.engine().write_report(path),
            None => std::fs::write(path, "[]\n").map(|()| 0),
        });
        if let Ok(written) = written {
            let written =
                written.with_context(|| format!("error writing the report {}", path.display()))?;
            info!(path = %path.display(), buffers = written, "import report written");
        }
    }
    // The page and JUnit list every buffer of the run: read back from the records file
    // (the streamed report), since planar holds records of live buffers only.
    let want_results = args.html.is_some() || args.junit.is_some();
    let records: Vec<planar_renderer::import::ImportRecord> = match args.records_file() {
        Some(path) if want_results => std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    if args.report.is_none() {
        if let Some(path) = args.records_file() {
            // Only written for the page: not the user's file.
            let _ = std::fs::remove_file(path);
        }
    }
    if let (Some(path), Some(image)) = (&state.screenshot.path, &state.screenshot.frozen) {
        image
            .write_png(path)
            .with_context(|| format!("error writing the screenshot {}", path.display()))?;
        info!(path = %path.display(), "screenshot written");
    }
    for (name, path) in &state.screenshot.per_output {
        let image = state
            .screenshot
            .frozen_outputs
            .iter()
            .find(|(n, _)| n == name);
        match image {
            Some((_, image)) => {
                image
                    .write_png(path)
                    .with_context(|| format!("error writing the screenshot {}", path.display()))?;
                info!(path = %path.display(), output = %name, "screenshot written");
            }
            None => anyhow::bail!("error taking the screenshot of output {name}: no such output"),
        }
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
                state.screenshot.path.as_deref(),
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

/// Runs the loop until Xwayland is ready (its window manager connected), so CMD finds a
/// working DISPLAY. Xwayland needs Wayland roundtrips to start, hence the dispatching.
fn wait_for_xwayland(
    event_loop: &mut EventLoop<State>,
    display: &mut Display<State>,
    state: &mut State,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + crate::xwayland::START_TIMEOUT;
    while state.x11_display().is_none() && state.stop.is_none() {
        if std::time::Instant::now() > deadline {
            anyhow::bail!(
                "Xwayland was not ready after {} s",
                crate::xwayland::START_TIMEOUT.as_secs()
            );
        }
        event_loop
            .dispatch(Some(Duration::from_millis(20)), state)
            .context("error in the event loop")?;
        display
            .dispatch_clients(state)
            .context("error dispatching clients")?;
        display.flush_clients().context("error flushing clients")?;
    }
    Ok(())
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
