//! The scaffold a fuzz client may start from: a configured toplevel showing a wl_shm or
//! linux-dmabuf XRGB8888 buffer, built from well-formed requests through the same `send`
//! as the random ones (so they are counted and in the ring buffer too).

use std::ffi::CString;

use wayland_backend::{client::ObjectId, protocol::Argument};

use super::{End, Obj, Session};

impl Session<'_> {
    /// Binds the global `name` at the highest version both sides know.
    fn bind_named(&mut self, name: &str) -> Option<ObjectId> {
        let (global, advertised, registry) = {
            let s = self.data.0.lock().unwrap();
            let g = s.globals.iter().find(|g| g.1 == name)?;
            let r = s
                .live
                .iter()
                .find(|o| o.id.interface().name == "wl_registry")?;
            (g.0, g.2, r.id.clone())
        };
        let iface = *self.table.get(name)?;
        let version = advertised.min(iface.version);
        let args = vec![
            Argument::Uint(global),
            Argument::Str(Some(Box::new(CString::new(name).ok()?))),
            Argument::Uint(version),
            Argument::NewId(ObjectId::null()),
        ];
        let id = self.send(&registry, 0, args, Some((iface, version)))?;
        self.data.0.lock().unwrap().live.push(Obj {
            id: id.clone(),
            version,
        });
        Some(id)
    }

    /// Sends the request named `request` on `obj` with `args`; returns the new object.
    fn req(
        &mut self,
        obj: &ObjectId,
        request: &str,
        args: Vec<Argument<ObjectId, std::os::fd::RawFd>>,
    ) -> Option<ObjectId> {
        let opcode = obj
            .interface()
            .requests
            .iter()
            .position(|r| r.name == request)?;
        let version = self.backend.info(obj.clone()).ok()?.version;
        let id = self.send(obj, opcode as u16, args, None)?;
        self.data.0.lock().unwrap().live.push(Obj {
            id: id.clone(),
            version,
        });
        Some(id)
    }

    /// A toplevel, configured and acked, showing a wl_shm or linux-dmabuf XRGB8888 buffer,
    /// built from well-formed requests (missing globals just leave it unfinished).
    pub(super) fn scaffold(&mut self) -> Result<(), End> {
        use Argument::{Int, NewId, Object, Uint};
        let null = ObjectId::null;
        let (Some(comp), Some(wm)) = (
            self.bind_named("wl_compositor"),
            self.bind_named("xdg_wm_base"),
        ) else {
            return Ok(());
        };
        let Some(surface) = self.req(&comp, "create_surface", vec![NewId(null())]) else {
            return Ok(());
        };
        let xs = self.req(
            &wm,
            "get_xdg_surface",
            vec![NewId(null()), Object(surface.clone())],
        );
        let Some(xs) = xs else { return Ok(()) };
        self.req(&xs, "get_toplevel", vec![NewId(null())]);
        self.req(&surface, "commit", vec![]);
        self.roundtrip()?;
        let serial = self
            .data
            .0
            .lock()
            .unwrap()
            .serials
            .back()
            .copied()
            .unwrap_or(0);
        self.req(&xs, "ack_configure", vec![Uint(serial)]);
        let (w, h) = (self.rng.i32(1..=256), self.rng.i32(1..=256));
        let stride = w * 4;
        let fd = crate::memfd::sealed("planar-fuzz-buffer", &vec![0x6b; (stride * h) as usize])
            .map_err(|e| End::ConnectFailed(format!("memfd: {e}")))?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let buffer = if self.rng.bool() {
            let shm = self.bind_named("wl_shm");
            let pool = shm.and_then(|shm| {
                self.req(
                    &shm,
                    "create_pool",
                    vec![NewId(null()), Argument::Fd(raw), Int(stride * h)],
                )
            });
            pool.and_then(|pool| {
                let args = vec![NewId(null()), Int(0), Int(w), Int(h), Int(stride), Uint(1)];
                self.req(&pool, "create_buffer", args)
            })
        } else {
            let dmabuf = self.bind_named("zwp_linux_dmabuf_v1");
            let params = dmabuf.and_then(|d| self.req(&d, "create_params", vec![NewId(null())]));
            params.and_then(|p| {
                let add = vec![
                    Argument::Fd(raw),
                    Uint(0),
                    Uint(0),
                    Uint(stride as u32),
                    Uint(0),
                    Uint(0),
                ];
                self.req(&p, "add", add);
                let xr24 = u32::from_le_bytes(*b"XR24");
                self.req(
                    &p,
                    "create_immed",
                    vec![NewId(null()), Int(w), Int(h), Uint(xr24), Uint(0)],
                )
            })
        };
        self.extra_fds.push(fd);
        if let Some(buffer) = buffer {
            self.req(&surface, "attach", vec![Object(buffer), Int(0), Int(0)]);
            self.req(
                &surface,
                "damage_buffer",
                vec![Int(0), Int(0), Int(w), Int(h)],
            );
            self.req(&surface, "commit", vec![]);
        }
        Ok(())
    }
}
