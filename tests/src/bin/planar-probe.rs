//! planar-probe: connects to the compositor named by the environment as soon as its
//! socket accepts, completes one roundtrip (get_registry + sync), and exits 0. The
//! start-up benchmark times compositors with it.

use std::{os::unix::net::UnixStream, path::PathBuf, time::Duration, time::Instant};

use wayland_client::{protocol::wl_registry, Connection, Dispatch, QueueHandle};

struct Probe;

impl Dispatch<wl_registry::WlRegistry, ()> for Probe {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::var_os("XDG_RUNTIME_DIR")
            .ok_or_else(|| anyhow::anyhow!("XDG_RUNTIME_DIR is unset"))?,
    );
    let name = std::env::var_os("WAYLAND_DISPLAY")
        .ok_or_else(|| anyhow::anyhow!("WAYLAND_DISPLAY is unset"))?;
    let path = dir.join(name);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Polling is what a client started alongside a compositor has to do; 1 ms keeps the
    // measurement's resolution well under the start-up times measured.
    let stream = loop {
        match UnixStream::connect(&path) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!("no compositor at {}: {e}", path.display())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let conn = Connection::from_socket(stream)?;
    let mut queue = conn.new_event_queue();
    let _registry = conn.display().get_registry(&queue.handle(), ());
    queue.roundtrip(&mut Probe)?;
    Ok(())
}
