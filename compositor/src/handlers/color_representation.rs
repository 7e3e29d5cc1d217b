//! wp-color-representation-v1: a client says which YUV matrix and range its surface's
//! buffers use. planar's CPU path converts with it (BT.601, BT.709 and BT.2020, limited
//! and full range; with GLES in the YUV shader); without it, `--yuv-matrix` and
//! `--yuv-range` decide (default BT.601 limited).
//! Known limit: the EGL path samples YUV with the driver's default (BT.601 limited):
//! smithay 0.7 passes no colour hints to EGL. Alpha is premultiplied only; the chroma
//! location is accepted and not used (chroma is taken from the block's sample).
//!
//! The per-surface state lives here, double-buffered by smithay's surface cache (so a
//! synchronised subsurface's setting takes effect with its parent's commit, as the rest of
//! its state); the renderer is handed a plain [`YuvEncoding`] for each surface's buffer
//! when it imports it ([`encoding_of`]).

use std::sync::Mutex;

use planar_renderer::cpu::convert::{Matrix, YuvEncoding};
use smithay::{
    reexports::wayland_server::{
        protocol::wl_surface::WlSurface, Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch,
        New, Resource, WEnum,
    },
    wayland::compositor::{with_states, Cacheable, SurfaceData},
};
use wayland_protocols::wp::color_representation::v1::server::{
    wp_color_representation_manager_v1::{self, WpColorRepresentationManagerV1},
    wp_color_representation_surface_v1::{
        self, AlphaMode, Coefficients, Range, WpColorRepresentationSurfaceV1,
    },
};

use crate::state::State;

/// Surface data: whether the surface has a colour representation object (one at most).
#[derive(Default)]
struct HasObject(Mutex<bool>);

/// Surface state (double-buffered): the encoding the client declared (`None`: none, and
/// the buffer keeps the command line's).
#[derive(Debug, Default, Clone, Copy)]
struct Representation(Option<YuvEncoding>);

impl Cacheable for Representation {
    fn commit(&mut self, _dh: &DisplayHandle) -> Self {
        *self
    }
    fn merge_into(self, into: &mut Self, _dh: &DisplayHandle) {
        *into = self;
    }
}

/// The YUV encoding for the buffer of the surface whose data is `states`, as the
/// renderer takes it.
pub fn encoding_of(states: &SurfaceData) -> Option<YuvEncoding> {
    states.cached_state.get::<Representation>().current().0
}

impl GlobalDispatch<WpColorRepresentationManagerV1, ()> for State {
    fn bind(
        _: &mut Self,
        _: &DisplayHandle,
        _: &Client,
        resource: New<WpColorRepresentationManagerV1>,
        _: &(),
        data_init: &mut DataInit<'_, Self>,
    ) {
        let manager = data_init.init(resource, ());
        manager.supported_alpha_mode(AlphaMode::PremultipliedElectrical);
        for c in [
            Coefficients::Bt601,
            Coefficients::Bt709,
            Coefficients::Bt2020,
        ] {
            for r in [Range::Limited, Range::Full] {
                manager.supported_coefficients_and_ranges(c, r);
            }
        }
        manager.done();
    }
}

impl Dispatch<WpColorRepresentationManagerV1, ()> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        manager: &WpColorRepresentationManagerV1,
        request: wp_color_representation_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let wp_color_representation_manager_v1::Request::GetSurface { id, surface } = request {
            let exists = with_states(&surface, |states| {
                states
                    .data_map
                    .insert_if_missing_threadsafe(HasObject::default);
                let has = states.data_map.get::<HasObject>().unwrap();
                std::mem::replace(&mut *has.0.lock().unwrap(), true)
            });
            if exists {
                manager.post_error(
                    wp_color_representation_manager_v1::Error::SurfaceExists,
                    "the surface already has a color representation object",
                );
                return;
            }
            data_init.init(id, surface);
        }
    }
}

impl Dispatch<WpColorRepresentationSurfaceV1, WlSurface> for State {
    fn request(
        _state: &mut Self,
        _client: &Client,
        resource: &WpColorRepresentationSurfaceV1,
        request: wp_color_representation_surface_v1::Request,
        surface: &WlSurface,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, Self>,
    ) {
        use wp_color_representation_surface_v1::{Error, Request};
        let set = |enc: Option<YuvEncoding>| {
            with_states(surface, |states| {
                states.cached_state.get::<Representation>().pending().0 = enc;
            })
        };
        match request {
            Request::SetAlphaMode { alpha_mode }
                if alpha_mode != WEnum::Value(AlphaMode::PremultipliedElectrical) =>
            {
                resource.post_error(
                    Error::AlphaMode,
                    "only premultiplied electrical alpha is supported",
                );
            }
            Request::SetCoefficientsAndRange {
                coefficients,
                range,
            } => {
                let matrix = match coefficients {
                    WEnum::Value(Coefficients::Bt601) => Matrix::Bt601,
                    WEnum::Value(Coefficients::Bt709) => Matrix::Bt709,
                    WEnum::Value(Coefficients::Bt2020) => Matrix::Bt2020,
                    other => {
                        resource.post_error(
                            Error::Coefficients,
                            format!("coefficients {other:?} are not supported"),
                        );
                        return;
                    }
                };
                let full_range = match range {
                    WEnum::Value(Range::Full) => true,
                    WEnum::Value(Range::Limited) => false,
                    other => {
                        resource.post_error(
                            Error::Coefficients,
                            format!("range {other:?} is not supported"),
                        );
                        return;
                    }
                };
                set(Some(YuvEncoding { matrix, full_range }));
            }
            // Back to the default on the next commit; a new object may be made.
            Request::Destroy => {
                set(None);
                with_states(surface, |states| {
                    if let Some(has) = states.data_map.get::<HasObject>() {
                        *has.0.lock().unwrap() = false;
                    }
                });
            }
            _ => {}
        }
    }
}
