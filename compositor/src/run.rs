//! `planar run`: the compositor, the client command under it, and the exit status that CI
//! reads. [`run`] is set-up (`setup`, `spawn_command`), the loop (`serve`) and the finish
//! (`stop_code`, `finish`); the compositor's core is shared with the fixture (`serve.rs`).

use std::time::Duration;

use anyhow::Context;
use calloop::{
    generic::Generic,
    signals::{Signal, Signals},
    timer::{TimeoutAction, Timer},
    Interest, Mode, PostAction,
};
use planar_image::check_against;
use smithay::reexports::wayland_server::ListeningSocket;
use tracing::info;

use crate::{
    child::{exit_code, ClientCommand},
    cli::RunArgs,
    runtime_dir::RuntimeDir,
    serve::Planar,
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

/// `planar run`. Meant to be followed by [`exit`]: the renderer is left to the end of the
/// process (not torn down), so a caller that goes on living holds it for good.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let runtime_dir = RuntimeDir::from_env()?;
    crate::limits::raise_nofile();
    let (mut planar, socket_name) = setup(&args, &runtime_dir)?;
    let mut child = spawn_command(&args, &mut planar, &runtime_dir, &socket_name)?;
    serve(&mut planar, child.as_mut())?;
    let code = stop_code(&args, &mut planar.state, child.as_mut())?;
    let code = finish(&args, &mut planar.state, code, started)?;
    // The process ends next (see `exit`): the renderer is not torn down, since ending
    // Mesa's context waits on its rasteriser threads, which a loaded machine schedules
    // late. Clients, the socket and the lock file are still closed and removed.
    std::mem::forget(planar.state.backend.take());
    planar.teardown();
    info!(code, "planar exits");
    Ok(code)
}

/// Ends the process with `code` once stdout is flushed, without the C library's exit
/// handlers: Mesa's (which terminates every EGL display again, joining the llvmpipe
/// threads) and LLVM's static destructors are work a process that ends does not need.
/// Every file planar writes is closed before this (the kernel closes the rest).
pub fn exit(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit only ends the process; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// Everything before the command starts: the compositor with the command line's
/// settings, its backend started, its socket, signals and Xwayland. Returns the socket's
/// name.
fn setup(args: &RunArgs, runtime_dir: &RuntimeDir) -> anyhow::Result<(Planar, String)> {
    let mut names: Vec<_> = args.outputs.iter().filter_map(|o| o.name.clone()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("two outputs are named {}", w[0]);
    }
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
    let mut planar = Planar::new(args.backend, args.renderer.renderer, &config)?;
    configure(args, &mut planar.state)?;
    let handle = planar.event_loop.handle();
    crate::backend::start(args.backend, &mut planar.state, &handle)?;

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
    if let Some(backend) = &planar.state.backend {
        backend.listening_on(&socket_name);
    }
    planar.listen(socket)?;
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
        crate::xwayland::start(&mut planar.state)?;
        wait_for_xwayland(&mut planar)?;
    }
    Ok((planar, socket_name))
}

/// The state's settings from the command line: capture and input permissions, limits,
/// screenshots, input devices and the script.
fn configure(args: &RunArgs, state: &mut State) -> anyhow::Result<()> {
    state
        .capture_policy
        .set_allow_all(args.allow_capture == "all");
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
    Ok(())
}

/// Says where planar listens, starts the command (if any) with its exit watched, and the
/// timeout.
fn spawn_command(
    args: &RunArgs,
    planar: &mut Planar,
    runtime_dir: &RuntimeDir,
    socket_name: &str,
) -> anyhow::Result<Option<ClientCommand>> {
    let state = &mut planar.state;
    let handle = planar.event_loop.handle();
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

    let child = match args.command.as_slice() {
        [] => None,
        argv => {
            let token = state.capture_policy.token().to_string();
            let x11_display = state.x11_display();
            let cmd = ClientCommand::spawn(
                argv,
                runtime_dir.path(),
                socket_name,
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
    Ok(child)
}

/// The loop: until something stops planar (see `Stop`).
fn serve(planar: &mut Planar, mut child: Option<&mut ClientCommand>) -> anyhow::Result<()> {
    while planar.state.stop.is_none() {
        // Waits on clients (script steps, planar-test-v1 barriers) are polled every few
        // ms while any is pending.
        let wake = if planar.state.input_busy() { 5 } else { 100 };
        planar.turn(Duration::from_millis(wake), false, |state| {
            if let Some(cmd) = child.as_deref_mut() {
                if let Ok(Some(status)) = cmd.child.try_wait() {
                    state.stop.get_or_insert(Stop::ChildExited(status));
                }
            }
            // Messages a client sent before the command exited are still handled (the
            // turn serves clients after this): the last commit of an app that draws and
            // exits belongs in the picture.
        })?;
    }
    Ok(())
}

/// The exit status the stop reason gives, before the checks: the screenshot is frozen,
/// the command ended if it still runs.
fn stop_code(
    args: &RunArgs,
    state: &mut State,
    mut child: Option<&mut ClientCommand>,
) -> anyhow::Result<i32> {
    let stop = state.stop.expect("loop ends only with a reason");
    Ok(match stop {
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
    })
}

/// Everything after the loop: the import report, the screenshots, the `--expect` check
/// and the results page; returns the exit status.
fn finish(
    args: &RunArgs,
    state: &mut State,
    mut code: i32,
    started: std::time::Instant,
) -> anyhow::Result<i32> {
    write_report(args, state)?;
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
    write_screenshots(state)?;
    if state.screenshot.wanted && state.screenshot.frozen.is_none() {
        anyhow::bail!("error taking the screenshot: no frame could be read back");
    }
    let mut checks = Vec::new();
    if let (Some(reference), Some(image)) = (&args.expect, &state.screenshot.frozen) {
        let outcome = check_against(image, reference, &args.check.options())
            .with_context(|| format!("error comparing with {}", reference.display()))?;
        eprintln!("planar: {}", outcome.message(reference));
        if want_results {
            checks.push(crate::results::CheckResult::new(
                reference,
                state.screenshot.path.as_deref(),
                &outcome,
            ));
        }
        // A failing command keeps its own status; a mismatch fails a run that passed.
        if !outcome.passed() && code == 0 {
            code = EXIT_MISMATCH;
        }
    }
    if want_results {
        crate::results::write_run(args, started.elapsed(), code, checks, &records)?;
    }
    Ok(code)
}

/// The import report (`--report`, or the records file the results page reads).
fn write_report(args: &RunArgs, state: &mut State) -> anyhow::Result<()> {
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
    Ok(())
}

/// `--screenshot`: the frozen frame of the layout, and of each named output.
fn write_screenshots(state: &State) -> anyhow::Result<()> {
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
    Ok(())
}

/// Runs the loop until Xwayland is ready (its window manager connected), so CMD finds a
/// working DISPLAY. Xwayland needs Wayland roundtrips to start, hence the dispatching.
fn wait_for_xwayland(planar: &mut Planar) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + crate::xwayland::START_TIMEOUT;
    let Planar {
        state,
        display,
        event_loop,
    } = planar;
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
