//! Several outputs: `--output WxH[@HZ][,scale=S][,transform=T][,name=N][,pos=X,Y]`, their
//! wl_output globals (with xdg-output, through smithay), adding, changing and removing them
//! at run time (planar-test-v1), each surface's preferred scale, and the layout screenshot.
//!
//! Rendering: one offscreen target per output, all drawn by the one renderer (the engine
//! swaps targets, see `Engine::select_output`). One layout-sized target could not draw
//! outputs of different scales each at its own scale. The layout screenshot is composed
//! from the outputs' frames: a canvas of the layout's bounding box times the highest
//! scale, each output's pixels at its logical position times that scale, unscaled (a
//! lower-scale output covers less than its share; the rest is opaque black).
//!
//! Known limits: `@HZ` is the mode advertised; frames are paced by `--refresh` for all
//! outputs alike. The first output cannot be removed (it is the nested window's and the
//! one presentation feedback names). Nested mode draws the first output only.

use smithay::{
    output::{Mode, Output, PhysicalProperties, Scale, Subpixel},
    reexports::wayland_server::backend::GlobalId,
    utils::{Logical, Point, Size, Transform},
    wayland::{compositor::with_surface_tree_downward, fractional_scale::with_fractional_scale},
};
use tracing::{info, warn};

use crate::state::State;
use planar_image::RgbaImage;

/// Outputs at most: each has an offscreen target of its size.
const MAX_OUTPUTS: usize = 16;

/// One `--output` (or a planar-test-v1 `set_output` spec).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub size: (i32, i32),
    /// Advertised refresh in Hz; `None`: `--refresh`'s.
    pub refresh_hz: Option<u32>,
    pub scale: f64,
    pub transform: Transform,
    pub name: Option<String>,
    /// Logical position; `None`: right of the outputs before it.
    pub pos: Option<(i32, i32)>,
}

/// Parses `WxH[@HZ][,scale=S][,transform=T][,name=N][,pos=X,Y]`.
pub fn parse_output_spec(s: &str) -> Result<OutputSpec, String> {
    let mut parts = s.split(',');
    let head = parts.next().unwrap_or_default();
    let (size, hz) = match head.split_once('@') {
        Some((size, hz)) => (size, Some(hz)),
        None => (head, None),
    };
    let size = crate::cli::parse_size(size).map_err(|e| format!("output {s:?}: {e}"))?;
    let refresh_hz = hz
        .map(|hz| {
            hz.parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| format!("output {s:?}: refresh {hz:?} is not 1 to 1000 Hz"))
        })
        .transpose()?;
    let mut spec = OutputSpec {
        size,
        refresh_hz,
        scale: 1.0,
        transform: Transform::Normal,
        name: None,
        pos: None,
    };
    let mut rest: Vec<&str> = parts.collect();
    rest.reverse();
    while let Some(part) = rest.pop() {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("output {s:?}: {part:?} is not KEY=VALUE"))?;
        match key {
            "scale" => spec.scale = parse_scale(value)?,
            "transform" => spec.transform = parse_transform(value)?,
            "name" => {
                if !valid_name(value) {
                    return Err(format!(
                        "output {s:?}: name {value:?} must be 1-64 of A-Z a-z 0-9 - _"
                    ));
                }
                spec.name = Some(value.to_string());
            }
            "pos" => {
                // pos=X,Y: the Y is the next comma-separated part.
                let y = rest
                    .pop()
                    .ok_or_else(|| format!("output {s:?}: pos needs X,Y"))?;
                let coord = |v: &str| {
                    v.parse::<i32>()
                        .ok()
                        .filter(|n| (-65536..=65536).contains(n))
                        .ok_or_else(|| format!("output {s:?}: position {v:?} is not a number"))
                };
                spec.pos = Some((coord(value)?, coord(y)?));
            }
            _ => return Err(format!("output {s:?}: unknown key {key:?}")),
        }
    }
    Ok(spec)
}

/// Output names: 1 to 64 of A-Z a-z 0-9 - _ (so `--screenshot NAME=FILE` can tell a
/// name from a path).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A scale from 0.25 to 8, rounded to the 1/120 steps wp_fractional_scale_v1 can say.
fn parse_scale(v: &str) -> Result<f64, String> {
    let scale: f64 = v
        .parse()
        .ok()
        .filter(|s: &f64| (0.25..=8.0).contains(s))
        .ok_or_else(|| format!("scale {v:?} is not a number from 0.25 to 8"))?;
    Ok((scale * 120.0).round() / 120.0)
}

fn parse_transform(v: &str) -> Result<Transform, String> {
    Ok(match v {
        "normal" | "0" => Transform::Normal,
        "90" => Transform::_90,
        "180" => Transform::_180,
        "270" => Transform::_270,
        "flipped" => Transform::Flipped,
        "flipped-90" => Transform::Flipped90,
        "flipped-180" => Transform::Flipped180,
        "flipped-270" => Transform::Flipped270,
        _ => {
            return Err(format!(
                "transform {v:?} is not normal, 90, 180, 270, flipped or flipped-90/180/270"
            ))
        }
    })
}

fn smithay_scale(scale: f64) -> Scale {
    if scale.fract() == 0.0 {
        Scale::Integer(scale as i32)
    } else {
        Scale::Fractional(scale)
    }
}

impl State {
    /// The output called `name`.
    pub fn output_named(&self, name: &str) -> Option<Output> {
        self.outputs.iter().find(|o| o.name() == name).cloned()
    }

    /// Adds an output with its wl_output global, placed at `spec.pos` or right of the
    /// rightmost output. `refresh_hz`: the default refresh (`--refresh`; 0 shows as 60).
    pub fn add_output(&mut self, spec: &OutputSpec, refresh_hz: u32) -> Result<Output, String> {
        let name = match &spec.name {
            Some(n) => n.clone(),
            None => (1..)
                .map(|i| format!("HEADLESS-{i}"))
                .find(|n| self.output_named(n).is_none())
                .unwrap_or_default(),
        };
        if self.output_named(&name).is_some() {
            return Err(format!("there already is an output named {name}"));
        }
        if self.outputs.len() >= MAX_OUTPUTS {
            return Err(format!(
                "planar has {MAX_OUTPUTS} outputs, the most it takes"
            ));
        }
        let output = Output::new(
            name.clone(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "planar".into(),
                model: "headless".into(),
            },
        );
        let global = output.create_global::<Self>(&self.display_handle);
        let pos = spec.pos.unwrap_or_else(|| {
            let right = self
                .outputs
                .iter()
                .filter_map(|o| self.space.output_geometry(o))
                .map(|g| g.loc.x + g.size.w)
                .max()
                .unwrap_or(0);
            (right, 0)
        });
        let hz = spec.refresh_hz.unwrap_or(refresh_hz);
        // wl_output wants a rate: on-demand output reports 60 Hz.
        let mode = Mode {
            size: spec.size.into(),
            refresh: if hz == 0 { 60_000 } else { hz as i32 * 1000 },
        };
        output.change_current_state(
            Some(mode),
            Some(spec.transform),
            Some(smithay_scale(spec.scale)),
            Some(pos.into()),
        );
        output.set_preferred(mode);
        self.space.map_output(&output, pos);
        self.outputs.push(output.clone());
        self.output_globals.push((name.clone(), global));
        info!(output = %name, width = spec.size.0, height = spec.size.1, scale = spec.scale, x = pos.0, y = pos.1, "output added");
        Ok(output)
    }

    /// Changes an output's mode, scale, transform and (when given) position; clients hear
    /// wl_output/xdg-output events, fractional-scale and buffer-scale updates, and
    /// fullscreen toplevels a new size.
    pub fn configure_output(&mut self, name: &str, spec: &OutputSpec) -> Result<(), String> {
        let output = self
            .output_named(name)
            .ok_or_else(|| format!("no output named {name}"))?;
        let current = output.current_mode();
        let mode = Mode {
            size: spec.size.into(),
            refresh: spec
                .refresh_hz
                .map(|hz| hz as i32 * 1000)
                .or(current.map(|m| m.refresh))
                .unwrap_or(60_000),
        };
        if let Some(current) = current.filter(|c| *c != mode) {
            output.delete_mode(current);
        }
        let pos: Option<Point<i32, Logical>> = spec.pos.map(Into::into);
        output.change_current_state(
            Some(mode),
            Some(spec.transform),
            Some(smithay_scale(spec.scale)),
            pos,
        );
        output.set_preferred(mode);
        let loc = pos.unwrap_or_else(|| output.current_location());
        self.space.map_output(&output, loc);
        self.outputs_changed();
        info!(output = %name, width = spec.size.0, height = spec.size.1, scale = spec.scale, "output changed");
        Ok(())
    }

    /// Removes an output and its global (not the first output).
    pub fn remove_output(&mut self, name: &str) -> Result<(), String> {
        let output = self
            .output_named(name)
            .ok_or_else(|| format!("no output named {name}"))?;
        if output == self.output {
            return Err("the first output cannot be removed".into());
        }
        // Windows on it go back to the first output's top-left, where new ones go.
        let geometry = self.space.output_geometry(&output);
        let stranded: Vec<_> = self
            .space
            .elements()
            .filter(|w| {
                let loc = self.space.element_location(w).unwrap_or_default();
                geometry.is_some_and(|g| g.contains(loc))
            })
            .cloned()
            .collect();
        let origin = self.output.current_location();
        for window in stranded {
            self.space.map_element(window, origin, false);
        }
        self.space.unmap_output(&output);
        self.outputs.retain(|o| *o != output);
        if let Some(i) = self.output_globals.iter().position(|(n, _)| n == name) {
            let (_, global) = self.output_globals.swap_remove(i);
            remove_global(self, global);
        }
        if let Some(backend) = self.backend.as_mut() {
            backend.engine().forget_output(name);
        }
        self.outputs_changed();
        info!(output = %name, "output removed");
        Ok(())
    }

    /// The logical size of `output`: its mode, transformed, divided by its scale and
    /// rounded as xdg-output says it (smithay's space geometry rounds up, which would
    /// make a fullscreen window at 1.5 a pixel larger than the output).
    pub fn logical_size_of(&self, output: &Output) -> Size<i32, Logical> {
        let Some(mode) = output.current_mode() else {
            return (1, 1).into();
        };
        let size = output.current_transform().transform_size(mode.size);
        let logical = size
            .to_f64()
            .to_logical(output.current_scale().fractional_scale())
            .to_i32_round::<i32>();
        (logical.w.max(1), logical.h.max(1)).into()
    }

    /// After outputs changed: surfaces enter and leave them, get their output's scale,
    /// and fullscreen toplevels are sized to their output again.
    pub fn outputs_changed(&mut self) {
        self.space.refresh();
        let windows: Vec<_> = self.space.elements().cloned().collect();
        for window in windows {
            let Some(toplevel) = window.toplevel() else {
                continue;
            };
            let output = self.output_of(&window);
            crate::handlers::fill_output_if_asked(toplevel, self.logical_size_of(&output));
            set_preferred_scale(toplevel.wl_surface(), &output);
        }
        self.present();
    }

    /// The output a window is on: the one its top-left is in, else the first.
    pub fn output_of(&self, window: &smithay::desktop::Window) -> Output {
        let loc = self.space.element_location(window).unwrap_or_default();
        self.space
            .output_under(loc.to_f64())
            .next()
            .cloned()
            .unwrap_or_else(|| self.output.clone())
    }

    /// The pixels of the output `name` as last drawn.
    pub fn read_output(&mut self, output: &Output) -> Option<RgbaImage> {
        let size = output.current_mode()?.size;
        let backend = self.backend.as_mut()?;
        let read = backend
            .engine()
            .select_output(&output.name(), size)
            .and_then(|()| backend.read_rgba());
        // The first output's target stays the current one (the nested window draws it).
        if let Some(first) = self.output.current_mode() {
            let _ = backend
                .engine()
                .select_output(&self.output.name(), first.size);
        }
        match read {
            Ok(image) => Some(image),
            Err(err) => {
                warn!(%err, output = %output.name(), "reading an output back failed");
                None
            }
        }
    }

    /// The whole layout as one image (see the module header); with one output, its frame.
    pub fn layout_image(&mut self) -> Option<RgbaImage> {
        let outputs = self.outputs.clone();
        if outputs.len() == 1 {
            return self.read_output(&outputs[0]);
        }
        let max_scale = outputs
            .iter()
            .map(|o| o.current_scale().fractional_scale())
            .fold(1.0, f64::max);
        let geos: Vec<_> = outputs
            .iter()
            .filter_map(|o| self.space.output_geometry(o))
            .collect();
        let x0 = geos.iter().map(|g| g.loc.x).min()?;
        let y0 = geos.iter().map(|g| g.loc.y).min()?;
        let x1 = geos.iter().map(|g| g.loc.x + g.size.w).max()?;
        let y1 = geos.iter().map(|g| g.loc.y + g.size.h).max()?;
        let to_px = |v: i32| (f64::from(v) * max_scale).round() as i64;
        let (cw, ch) = (to_px(x1 - x0), to_px(y1 - y0));
        if cw <= 0 || ch <= 0 || cw * ch > 1 << 27 {
            warn!(
                width = cw,
                height = ch,
                "the layout is too large for one screenshot"
            );
            return None;
        }
        let mut canvas = RgbaImage {
            width: cw as u32,
            height: ch as u32,
            data: [0, 0, 0, 255].repeat((cw * ch) as usize),
        };
        for output in &outputs {
            let (Some(geo), Some(image)) =
                (self.space.output_geometry(output), self.read_output(output))
            else {
                continue;
            };
            let (ox, oy) = (to_px(geo.loc.x - x0), to_px(geo.loc.y - y0));
            for y in 0..i64::from(image.height) {
                let cy = oy + y;
                if cy >= ch {
                    break;
                }
                let w = i64::from(image.width).min(cw - ox).max(0) as usize;
                let src = (y as usize * image.width as usize) * 4;
                let dst = ((cy * cw + ox) as usize) * 4;
                canvas.data[dst..dst + w * 4].copy_from_slice(&image.data[src..src + w * 4]);
            }
        }
        Some(canvas)
    }
}

/// Disables the global at once (clients get global_remove) and destroys it 5 s later, as
/// wayland.xml advises: a client that binds it in between, having not yet seen the
/// removal, would otherwise be killed with a protocol error.
fn remove_global(state: &State, global: GlobalId) {
    state.display_handle.disable_global::<State>(global.clone());
    let Some(handle) = &state.loop_handle else {
        state.display_handle.remove_global::<State>(global);
        return;
    };
    let timer = calloop::timer::Timer::from_duration(std::time::Duration::from_secs(5));
    let inserted = handle.insert_source(timer, move |_, _, state| {
        state.display_handle.remove_global::<State>(global.clone());
        calloop::timer::TimeoutAction::Drop
    });
    if let Err(err) = inserted {
        warn!(%err, "error arming the timer that destroys a removed output's global");
    }
}

/// Sets the preferred fractional scale and buffer scale/transform of a surface tree, and
/// of its popups' trees, to `output`'s.
pub fn set_preferred_scale(
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    output: &Output,
) {
    set_tree_scale(surface, output);
    for (popup, _) in smithay::desktop::PopupManager::popups_for_surface(surface) {
        set_tree_scale(popup.wl_surface(), output);
    }
}

fn set_tree_scale(
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    output: &Output,
) {
    let scale = output.current_scale();
    let transform = output.current_transform();
    with_surface_tree_downward(
        surface,
        (),
        |_, _, _| smithay::wayland::compositor::TraversalAction::DoChildren(()),
        |surface, states, _| {
            with_fractional_scale(states, |fs| {
                fs.set_preferred_scale(scale.fractional_scale())
            });
            smithay::wayland::compositor::send_surface_state(
                surface,
                states,
                scale.integer_scale(),
                transform,
            );
        },
        |_, _, _| true,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs_parse() {
        let s =
            parse_output_spec("1280x720@30,scale=1.5,transform=90,name=LEFT,pos=-1280,0").unwrap();
        assert_eq!(s.size, (1280, 720));
        assert_eq!(s.refresh_hz, Some(30));
        assert_eq!(s.scale, 1.5);
        assert_eq!(s.transform, Transform::_90);
        assert_eq!(s.name.as_deref(), Some("LEFT"));
        assert_eq!(s.pos, Some((-1280, 0)));
        let d = parse_output_spec("640x480").unwrap();
        assert_eq!((d.scale, d.pos, d.name), (1.0, None, None));
    }

    #[test]
    fn bad_output_specs_are_refused() {
        for bad in [
            "1280",
            "0x720",
            "1280x720@0",
            "1280x720,scale=0",
            "1280x720,scale=nan",
            "1280x720,transform=45",
            "1280x720,name=a b",
            "1280x720,pos=1",
            "1280x720,pos=1,y",
            "1280x720,colour=red",
        ] {
            assert!(parse_output_spec(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn scales_round_to_120ths() {
        assert_eq!(parse_scale("1.5").unwrap() * 120.0, 180.0);
        assert_eq!((parse_scale("1.333").unwrap() * 120.0).round(), 160.0);
    }
}
